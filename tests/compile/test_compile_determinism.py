"""Same specs, same bytes: whatever the file creation order, document order or PYTHONHASHSEED."""

from __future__ import annotations

import shutil
from pathlib import Path

from compile_support import SPECS, read_tree, run_paybill
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybill.compile import compile_documents
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_source
from paybill.load.discover import discover_spec_files


def copy_in_order(destination: Path, reverse: bool) -> Path:
    """Copy the example specs creating files (and folders) in sorted or reverse-sorted order.

    Directory listing order on most filesystems follows creation order or a hash of the name, so
    this varies what ``os.walk`` sees; the compiler must sort for itself.
    """
    files = sorted(p for p in SPECS.rglob("*") if p.is_file())
    if reverse:
        files.reverse()
    root = destination / "specs"
    for source in files:
        target = root / source.relative_to(SPECS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def test_bytes_identical_across_file_order_and_hash_seed(tmp_path: Path) -> None:
    trees = []
    for i, (reverse, seed) in enumerate(((False, "0"), (True, "1"), (True, "4242"), (False, "random"))):
        workdir = tmp_path / f"run{i}"
        copy_in_order(workdir, reverse)
        result = run_paybill("compile", cwd=workdir, env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stdout + result.stderr
        trees.append(read_tree(workdir / "generated"))
    assert trees[0], "nothing was generated"
    for other in trees[1:]:
        assert other.keys() == trees[0].keys()
        assert other == trees[0]


def _documents():
    sink = DiagnosticSink()
    files, _ = discover_spec_files(SPECS)
    return [d for f in files for d in load_source(f.path.read_bytes(), f.display, sink)]


REFERENCE = compile_documents(_documents()).tree


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(range(len(_documents()))))
def test_document_order_never_changes_output(order: list[int]) -> None:
    documents = _documents()
    result = compile_documents([documents[i] for i in order])
    assert result.ok
    assert result.tree == REFERENCE


def test_output_has_no_absolute_paths_or_machine_facts(tmp_path: Path) -> None:
    workdir = tmp_path / "machine"
    copy_in_order(workdir, False)
    assert run_paybill("compile", cwd=workdir).returncode == 0
    for path, data in read_tree(workdir / "generated").items():
        text = data.decode()
        assert str(tmp_path) not in text and str(SPECS.parent) not in text, path
