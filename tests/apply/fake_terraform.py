"""A stand-in for the ``terraform`` executable, for tests at the process boundary.

Real Terraform cannot be downloaded here (no network to releases.hashicorp.com, and applying would
need cloud credentials), so ``paybill apply run`` is tested against this program: it appends one
JSON line per call to $FAKE_LOG (the -chdir folder, the arguments, start and end times), answers
``state list`` from $FAKE_STATES/<folder with / as _>, sleeps $FAKE_SLEEP seconds on apply and
destroy, answers ``plan -detailed-exitcode`` and ``show -json`` from $FAKE_DRIFT (:func:`_drift`),
fails on demand: $FAKE_FAILS is a JSON list of rules {"dir": suffix, "command": name,
"times": n, "output": text, "code": status}, each failing the first n matching calls, and leaves the
working files the real one leaves (:func:`_working_files`).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    started = time.time()
    chdir = argv[0].removeprefix("-chdir=") if argv and argv[0].startswith("-chdir=") else "."
    args = argv[1:] if argv and argv[0].startswith("-chdir=") else argv
    command = args[0] if args else ""
    code, output = 0, ""
    rules = json.loads(Path(os.environ["FAKE_FAILS"]).read_text()) if os.environ.get("FAKE_FAILS") else []
    counters = Path(os.environ.get("FAKE_COUNTERS", "/nonexistent"))
    for i, rule in enumerate(rules):
        if chdir.endswith(rule["dir"]) and command == rule["command"]:
            counter = counters / f"rule-{i}"
            with open(counters / "lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                seen = int(counter.read_text()) if counter.exists() else 0
                counter.write_text(str(seen + 1))
            if seen < rule["times"]:
                code, output = rule.get("code", 1), rule["output"]
                break
    if code == 0 and command in ("apply", "destroy"):
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    if code == 0 and command == "state" and args[1:2] == ["list"]:
        state = Path(os.environ["FAKE_STATES"]) / chdir.replace("/", "_")
        if state.exists():
            sys.stdout.write(state.read_text())
    if code == 0 and command == "plan" and not Path(chdir, "main.tf.json").is_file():
        code, output = 1, "Error: No configuration files"
    if code == 0:
        _working_files(chdir, command, args)
    if code == 0 and command == "plan" and "-detailed-exitcode" in args:
        code = _drift(chdir, args)
    if code == 0 and command == "show" and "-json" in args:
        saved = Path(chdir, args[-1]).read_text()
        sys.stdout.write(saved if saved.startswith("{") else '{"format_version": "1.2", "resource_changes": []}')
    with open(os.environ["FAKE_LOG"], "a") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps({"dir": chdir, "args": args, "t0": started, "t1": time.time(), "code": code}) + "\n")
    if output:
        sys.stderr.write(output + "\n")
    return code


def _drift(chdir: str, args: list[str]) -> int:
    """``plan -detailed-exitcode``: 2 when $FAKE_DRIFT/<folder with / as _> exists, its text (a plan as
    ``show -json`` prints it) saved as the plan; else 0."""
    drifted = Path(os.environ.get("FAKE_DRIFT", "/nonexistent")) / chdir.replace("/", "_")
    if not drifted.exists():
        return 0
    out = next((a.removeprefix("-out=") for a in args if a.startswith("-out=")), None)
    if out is not None:
        Path(chdir, out).write_text(drifted.read_text())
    sys.stdout.write("Note: Objects have changed outside of Terraform\nPlan: 0 to add, 1 to change, 0 to destroy.\n")
    return 2


def _working_files(chdir: str, command: str, args: list[str]) -> None:
    """Leave the files the real Terraform leaves: ``init`` fills the data dir (``$TF_DATA_DIR``, else
    ``.terraform`` in the configuration folder) and writes the dependency lock file into the
    configuration folder when there is none; ``plan -out=FILE`` writes FILE (relative to the folder)."""
    if command == "init":
        data = Path(chdir, os.environ.get("TF_DATA_DIR", ".terraform"))
        (data / "providers").mkdir(parents=True, exist_ok=True)
        (data / "terraform.tfstate").write_text('{"backend": {}}\n')
        lock = Path(chdir, ".terraform.lock.hcl")
        if not lock.exists():
            lock.write_text(f"# providers selected by init in {chdir}\n")
    elif command == "plan":
        out = next((a.removeprefix("-out=") for a in args if a.startswith("-out=")), None)
        if out is not None:
            Path(chdir, out).write_text("saved plan\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
