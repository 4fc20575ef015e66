"""Driving a long-running ``paybill`` server in a test: its start-up line, then a signal to stop it."""

from __future__ import annotations

import subprocess


def first_line_then_signal(process: subprocess.Popen[str], signal_number: int, timeout: float) -> tuple[str, str]:
    """The first line the server wrote on standard error (its start-up report), then ``signal_number``
    sent and the rest of standard error once it exits (within ``timeout`` seconds)."""
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
    finally:
        process.send_signal(signal_number)
        _, rest = process.communicate(timeout=timeout)
    return first, rest
