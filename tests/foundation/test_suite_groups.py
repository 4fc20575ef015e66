"""The suite's own parallel run (tests/conftest.py): PostgreSQL tests stay on one worker, in file order,
and a grouped test that xdist failed to group fails instead of running beside the others.

Each case runs pytest with two workers on a few tiny test files that log which worker ran them, using
the suite's real ``tests/conftest.py``, so a change to the hooks or an xdist or pytest upgrade that
breaks grouping fails here."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INI = """\
[pytest]
addopts = -p xdist -p no:cacheprovider -n 2 --dist loadgroup
markers =
    postgres: needs a real PostgreSQL server
"""

LOGGING = """\
import os
from pathlib import Path

import pytest

{mark}


@pytest.mark.parametrize("n", range({count}))
def test_logged(n: int) -> None:
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with (Path(__file__).parent / "log" / worker).open("a", encoding="utf-8") as log:
        log.write(f"{{Path(__file__).stem}}[{{n}}]\\n")
"""

LATE_MARK = """

@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # a group given after xdist read the groups: what every group looks like when xdist cannot group
    for item in session.items:
        if item.name == "test_late":
            item.add_marker(pytest.mark.xdist_group("late"))
"""


def _suite(tmp_path: Path, *, extra_conftest: str = "", files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("xdist") is None:
        message = "pytest-xdist is not installed (a venv from before it was a test extra): run `make install-test`"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip("SKIPPED LOUDLY: " + message)
    (tmp_path / "pytest.ini").write_text(INI, encoding="utf-8")
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    with (tmp_path / "conftest.py").open("a", encoding="utf-8") as conftest:
        conftest.write(extra_conftest)
    (tmp_path / "log").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only xdist (-p xdist): the other plugins' imports cost seconds
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_postgres_tests_run_on_one_worker_in_file_order(tmp_path: Path) -> None:
    pg = LOGGING.format(mark="pytestmark = pytest.mark.postgres", count=6)
    done = _suite(tmp_path, files={"test_pg_a.py": pg, "test_pg_b.py": pg,
                                   "test_plain.py": LOGGING.format(mark="", count=12)})
    assert done.returncode == 0, done.stdout + done.stderr
    runs = {log.name: log.read_text(encoding="utf-8").split() for log in (tmp_path / "log").iterdir()}
    assert sorted(runs) == ["gw0", "gw1"], f"the plain tests should use both workers: {runs}"
    holding = [worker for worker, ran in runs.items() if any(name.startswith("test_pg_") for name in ran)]
    assert len(holding) == 1, f"PostgreSQL tests ran on {holding}"
    expected = [f"test_pg_{f}[{n}]" for f in "ab" for n in range(6)]
    assert [name for name in runs[holding[0]] if name.startswith("test_pg_")] == expected


def test_a_grouped_test_that_xdist_did_not_group_fails(tmp_path: Path) -> None:
    late = "def test_late() -> None:\n    pass\n\n\ndef test_plain() -> None:\n    pass\n"
    done = _suite(tmp_path, extra_conftest=LATE_MARK, files={"test_late.py": late})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR test_late.py::test_late - Failed: " in done.stdout, done.stdout
    assert "pytest-xdist did not put this test in its group 'late'" in done.stdout, done.stdout
    assert "PASSED test_late.py::test_plain" in done.stdout
