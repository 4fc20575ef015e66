"""Run ``paybill`` with the given arguments and write the CPU seconds of this process alone to the file
named by ``OWN_CPU_FILE`` as it exits: the compile's critical path.

``wait4`` of a ``paybill compile`` counts the helpers it forks and waits for (the spare's survey,
:mod:`paybill.write.lease`, runs on the other core meanwhile), so it says how much CPU the compile
used, not how long a core was needed in a row. This process's own user + system seconds
(``RUSAGE_SELF``, taken in :func:`paybill.gcpause.exit_process` or ``atexit``) are what an idle
two-core machine waits for. Used by ``bench_incremental`` for the identity-edit rows.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys

import paybill.gcpause as gcpause

_PID = os.getpid()
_WHERE = os.environ["OWN_CPU_FILE"]
_exit_process = gcpause.exit_process


def _report() -> None:
    if os.getpid() == _PID:  # not from a forked helper
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(_WHERE, "w") as handle:
            handle.write(f"{usage.ru_utime + usage.ru_stime}\n")


def _exit(code: int):  # type: ignore[no-untyped-def]
    _report()
    _exit_process(code)


gcpause.exit_process = _exit
atexit.register(_report)
sys.argv = ["paybill", *sys.argv[1:]]

from paybill.cli.main import main  # noqa: E402

main()
