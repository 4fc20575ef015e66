"""What an agent process pays to load paybill's runtime, against the libraries it cannot do without.

An agent process enforcing a bundle imports ``paybill.guard.db`` (the guard and the guarded
database); ``paybill serve`` imports its MCP server and transports. Neither may load the compiler
(import contracts in pyproject.toml, tests/foundation/test_layers.py); this benchmark says what
they do cost. Each case runs in a fresh interpreter and reports:

* **import**: seconds from the first import statement to the last, measured inside the child
  (interpreter start-up excluded, so the number is what the imports add);
* **process**: wall seconds of the whole child, start-up and exit included (``python -c`` as an
  agent's supervisor would see it);
* **modules**: ``len(sys.modules)`` afterwards, and how many of them are paybill's.

Floors, measured in the same run:

* ``runtime floor``: only the libraries the guard is built on (cedarpy, cryptography's Ed25519
  and serialization, psycopg, orjson); ``paybill.guard.db`` is compared with it;
* ``serve floor``: the runtime floor plus what the MCP server stands on (the MCP SDK's low-level
  server and transports, uvicorn, starlette, psycopg-pool, prometheus-client, jsonschema, anyio);
  the serve entry is compared with it.

Best of N interleaved rounds (every case once per round, so a busy neighbour slows all alike),
after one warm-up round (bytecode caches and page cache hot for everyone). No ``-X importtime``:
its own bookkeeping is part of what it measures.

Usage: ``python benchmarks/bench_imports.py [ROUNDS]`` (default 15).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROUNDS = 15
TARGET_RATIO = 1.5
"""paybill's import time over its floor's (the guard and serve code itself may add half)."""

RUNTIME_FLOOR = (
    "import cedarpy\n"
    "from cryptography.exceptions import InvalidSignature\n"
    "from cryptography.hazmat.primitives import serialization\n"
    "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n"
    "import psycopg\n"
    "from psycopg import errors, sql\n"
    "import orjson\n"
)
SERVE_FLOOR = RUNTIME_FLOOR + (
    "import anyio\n"
    "import uvicorn\n"
    "from mcp.server.lowlevel import Server\n"
    "from mcp.server.stdio import stdio_server\n"
    "from mcp.server.transport_security import TransportSecuritySettings\n"
    "from starlette.applications import Starlette\n"
    "from psycopg_pool import ConnectionPool\n"
    "from prometheus_client import CollectorRegistry\n"
    "from jsonschema import Draft202012Validator\n"
)
CASES = {
    "runtime floor": RUNTIME_FLOOR,
    "paybill.guard.db": "import paybill.guard.db\n",
    "paybill.authzen": "import paybill.authzen\n",
    "serve floor": SERVE_FLOOR,
    "paybill serve (mcp_app, transport)": "import paybill.serve.mcp_app, paybill.serve.transport\n",
}
COMPARED = {"paybill.guard.db": "runtime floor", "paybill serve (mcp_app, transport)": "serve floor"}
COMPILER = ("load", "validate", "resolve", "graph", "emit", "compile", "write", "plan", "propose", "audit",
            "billing", "models", "changes", "cli")

_CHILD = """\
import sys, time
_t = time.perf_counter()
{body}_d = time.perf_counter() - _t
import json
_ours = sorted(m for m in sys.modules if m.startswith("paybill."))
print(json.dumps({{"seconds": _d, "modules": len(sys.modules), "paybill": len(_ours) + ("paybill" in sys.modules),
                  "compiler": [m for m in _ours if m.split(".")[1] in {compiler!r}]}}))
"""


@dataclass(frozen=True)
class Sample:
    seconds: float
    """The imports, timed inside the child."""
    process: float
    """The whole child process, timed by the parent."""
    modules: int
    paybill: int
    compiler: list[str]


def run_case(body: str) -> Sample:
    """One fresh interpreter importing ``body``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    code = _CHILD.format(body=body, compiler=COMPILER)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - started
    found = json.loads(done.stdout)
    return Sample(found["seconds"], wall, found["modules"], found["paybill"], found["compiler"])


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv and argv[0].isdigit() else DEFAULT_ROUNDS
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {rounds} rounds, best of each")
    last = {name: run_case(body) for name, body in CASES.items()}  # warm-up: bytecode and page cache
    best_import = {name: float("inf") for name in CASES}
    best_process = {name: float("inf") for name in CASES}
    for _ in range(rounds):  # interleaved
        for name, body in CASES.items():
            last[name] = sample = run_case(body)
            best_import[name] = min(best_import[name], sample.seconds)
            best_process[name] = min(best_process[name], sample.process)
    status = 0
    print(f"{'case':<36} {'import':>9} {'process':>9} {'modules':>8} {'paybill':>8}")
    for name in CASES:
        sample = last[name]
        print(f"{name:<36} {best_import[name] * 1000:7.1f} ms {best_process[name] * 1000:6.1f} ms "
              f"{sample.modules:>8} {sample.paybill:>8}")
        if sample.compiler:
            print(f"  LOADS THE COMPILER: {sample.compiler}")
            status = 1
    for name, floor in COMPARED.items():
        ratio = best_import[name] / best_import[floor]
        extra = last[name].modules - last[floor].modules
        print(f"{name} / {floor}: import {ratio:.2f} x (target <= {TARGET_RATIO:.1f} x) "
              f"{'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}; +{extra} modules, "
              f"+{(best_import[name] - best_import[floor]) * 1000:.1f} ms")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
