"""The decision endpoint and shadow mode are runtime code: importing them loads no compiler stage."""

from __future__ import annotations

import subprocess
import sys

COMPILER = ("paybill.load", "paybill.validate", "paybill.graph", "paybill.emit", "paybill.compile", "paybill.plan",
            "paybill.audit", "paybill.propose", "paybill.write")


def test_runtime_modules_import_no_compiler_stage():
    code = ("import sys, paybill.authzen, paybill.guard.shadow, paybill.guard.shadow_report\n"
            f"bad = sorted(m for m in sys.modules if m.startswith({COMPILER!r}))\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
