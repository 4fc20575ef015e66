"""Runtime layering: ``paybill db`` loads no compiler stage (it reads compiled output only)."""

from __future__ import annotations

import subprocess
import sys

STAGES = ("paybill.load", "paybill.validate", "paybill.graph", "paybill.emit", "paybill.compile", "paybill.plan")


def test_db_commands_import_no_compiler_stage() -> None:
    code = (
        "import sys\n"
        "import paybill.cli.db_cmd, paybill.dbops.migrate, paybill.dbops.drift, paybill.dbops.export,"
        " paybill.dbops.erase, paybill.dbops.head\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({STAGES!r}))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
