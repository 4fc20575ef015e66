"""The second core: forked helpers must change how fast a compile is, never what it produces.

Large repositories are loaded, rendered and written partly by forked helper processes
(``paybill.forked``). These tests lower the size thresholds so the example specs take the parallel
paths, and compare every byte and every diagnostic with the one-process compile.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from compile_support import ROOT, SPECS, read_tree

import paybill.compile.pipeline as pipeline
import paybill.emit.files as emit_files
import paybill.emit.manifest as manifest_emitter
import paybill.emit.terraform.emitter as terraform_emitter
import paybill.write.stream as stream
from paybill.compile import compile_repository
from paybill.diagnostics import DiagnosticSink, Position
from paybill.emit.contract import EmitContext
from paybill.emit.entitlements import ENTITLEMENTS_EMITTER
from paybill.emit.files import OutputFiles, Written, WrittenFileChanged, tree_size
from paybill.emit.sql import SQL_EMITTER
from paybill.forked import MIN_ITEMS_ENV, NO_FORK_ENV, ForkedCall, Parallelism, WorkerDied, can_fork
from paybill.load import load_repository
from paybill.validate import validate_repository
from paybill.write.stream import StreamingWrite
from paybill.write.tree import write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here: parallel paths are off")


def _diagnostics(result) -> list[str]:
    return [f"{d.path}:{d.position.line}:{d.position.col}: {d.code} {d.message} | {d.hint}"
            for d in result.diagnostics]


def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_FORK_ENV, "1")


def _everything_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NO_FORK_ENV, raising=False)
    monkeypatch.setenv(MIN_ITEMS_ENV, "1")  # the one setting: every stage splits whatever its size
    assert can_fork(), "helpers would not start here (another thread running?): the test would prove nothing"


# --- ForkedCall -------------------------------------------------------------------------------


def _child_pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _fail_with_enospc(path: str) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", path)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not today")


def _fail_unpicklably() -> None:
    raise _Unpicklable("boom")


def _die_hard() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep_long() -> None:
    time.sleep(60)


def test_forked_call_returns_the_value_computed_in_another_process() -> None:
    pid, doubled = ForkedCall(_child_pid_and, 21).result()
    assert doubled == 42 and pid != os.getpid()


def test_forked_call_raises_the_childs_exception_in_the_parent() -> None:
    with pytest.raises(OSError) as caught:
        ForkedCall(_fail_with_enospc, "out/x.json").result()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "out/x.json"


def test_an_exception_that_cannot_be_pickled_still_arrives() -> None:
    with pytest.raises(RuntimeError, match="_Unpicklable: boom"):
        ForkedCall(_fail_unpicklably).result()


def test_a_child_killed_without_answering_is_reported() -> None:
    with pytest.raises(WorkerDied, match="without an answer"):
        ForkedCall(_die_hard).result()


def test_cancel_kills_and_reaps_the_child() -> None:
    call = ForkedCall(_sleep_long)
    started = time.monotonic()
    call.cancel()
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.kill(call.pid, 0)  # reaped: no zombie left behind
    call.cancel()  # a second cancel is harmless and signals nobody


def test_split_in_two_runs_the_rest_in_a_helper_only_above_the_minimum() -> None:
    def here(part: list[int]) -> tuple[int, list[int]]:
        return os.getpid(), part

    four = Parallelism(min_items=4)
    small = four.split_in_two([1, 2, 3], here, here)
    assert small == ((os.getpid(), [1, 2, 3]), None)
    (mine_pid, mine), (their_pid, theirs) = four.split_in_two([1, 2, 3, 4, 5], here, here, lambda items: 2)
    assert (mine_pid, mine) == (os.getpid(), [1, 2]) and their_pid != os.getpid() and theirs == [3, 4, 5]
    off = Parallelism(enabled=False, min_items=1)
    assert off.split_in_two([1, 2, 3, 4, 5], here, here) == ((os.getpid(), [1, 2, 3, 4, 5]), None)


def test_one_setting_from_the_environment() -> None:
    assert Parallelism.from_env({}) == Parallelism(enabled=True, min_items=2000)
    assert Parallelism.from_env({NO_FORK_ENV: "1"}).enabled is False
    assert Parallelism.from_env({MIN_ITEMS_ENV: "7"}).min_items == 7
    assert Parallelism.from_env({MIN_ITEMS_ENV: "0"}).min_items == 1
    assert Parallelism.from_env({MIN_ITEMS_ENV: "lots"}).min_items == 2000


def test_no_fork_env_turns_helpers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_FORK_ENV, "1")
    assert not can_fork()


def test_no_helpers_while_other_threads_run() -> None:
    import threading

    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        release.set()
        thread.join()
    assert can_fork()


# --- the stages -------------------------------------------------------------------------------


def test_parallel_load_finds_the_same_documents_and_diagnostics(spec_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken files in both halves: their errors and their guessed identities come back too."""
    specs = spec_copy({"tenants/acme-corp.yaml": lambda t: t.replace("spec:", "spec:\n  spec: {}", 1),
                       "tenants/wayne-enterprises.yaml": lambda t: t + "\n  bad: [unclosed\n"})
    results = []
    for mode in (_one_process, _everything_parallel):
        mode(monkeypatch)
        sink = DiagnosticSink()
        loaded = load_repository(specs, sink)
        results.append(([(d.path, d.index, d.kind, d.name, d.data, d.text_hash) for d in loaded.documents],
                        [str(d) for d in sink.sorted()], sorted(loaded.unloadable), loaded.files))
    assert results[0] == results[1]
    assert results[0][1], "the edits were meant to produce load errors"
    assert ("Tenant", "wayne-enterprises") in results[0][2]


def test_parallel_compile_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_process(monkeypatch)
    alone = compile_repository(SPECS)
    _everything_parallel(monkeypatch)
    forked = compile_repository(SPECS)
    assert alone.ok and forked.ok
    assert list(forked.tree) == list(alone.tree) and forked.tree == alone.tree
    assert forked.stacks == alone.stacks and forked.manifest == alone.manifest
    assert forked.facts.sql_databases == alone.facts.sql_databases  # a fact published by a helper


def test_diagnostics_of_emitters_run_in_a_helper_reach_the_result(spec_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundles emitter runs in the helper on large repositories; its warnings must not be lost."""
    specs = spec_copy({"agents/billing-agent.yaml": lambda t: t.replace(
        "    all: true", "    selector:\n      matchLabels:\n        segment: nobody-has-this")})
    _one_process(monkeypatch)
    alone = compile_repository(specs)
    assert "PB0704" in [d.code for d in alone.diagnostics]
    _everything_parallel(monkeypatch)
    forked = compile_repository(specs)
    assert _diagnostics(forked) == _diagnostics(alone) and forked.tree == alone.tree


def _explode(ctx) -> dict[str, bytes]:
    raise RuntimeError("emitter bug")


def test_an_emitter_crashing_in_the_helper_crashes_the_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug must surface as it would in one process, not as a compile with files missing."""
    from paybill.emit.contract import Emitter
    from paybill.emit.registry import all_emitters

    _everything_parallel(monkeypatch)
    emitters = [Emitter(e.name, _explode, True) if e.name == "sql" else e for e in all_emitters()]
    with pytest.raises(RuntimeError, match="emitter bug"):
        compile_repository(SPECS, emitters=emitters)


def _silo_tenant_naming_a_pool(spec_copy) -> Path:
    """A repository only a semantic rule rejects (PB0407: a fully silo tenant names a pool)."""
    return spec_copy({"tenants/acme-corp.yaml": lambda t: t.replace(
        "    region: us-east-1\n", "    region: us-east-1\n    pool: aws-use1-shared\n", 1)})


def test_rules_run_beside_resolve_report_what_one_process_reports(spec_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _silo_tenant_naming_a_pool(spec_copy)
    _one_process(monkeypatch)
    alone = compile_repository(specs)
    assert "PB0407" in [d.code for d in alone.diagnostics] and not alone.tree
    _everything_parallel(monkeypatch)
    forked = compile_repository(specs)
    assert _diagnostics(forked) == _diagnostics(alone) and not forked.tree


def _resolve_bug(*args, **kwargs):
    raise RuntimeError("resolve bug")


def test_resolve_failing_on_an_index_the_rules_reject_is_not_reported(
    spec_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolve runs beside the rules as if the index were valid; on an invalid one it may raise. One
    process never resolves such an index, so the rules' errors are the whole answer. On a valid
    index the same exception is a bug and surfaces."""
    specs = _silo_tenant_naming_a_pool(spec_copy)
    _one_process(monkeypatch)
    alone = compile_repository(specs)
    _everything_parallel(monkeypatch)
    monkeypatch.setattr(pipeline, "resolve_index", _resolve_bug)
    forked = compile_repository(specs)
    assert _diagnostics(forked) == _diagnostics(alone)
    with pytest.raises(RuntimeError, match="resolve bug"):
        compile_repository(SPECS)


def test_name_plans_of_an_index_the_rules_reject_are_not_stored(
    spec_copy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolve ran, but the compile failed validation: like one process, it stores nothing of it."""
    from paybill.resolve.name_memo import NAMESPACE
    from paybill.store import UNITS_FOLDER, UnitStore

    _everything_parallel(monkeypatch)
    cache = tmp_path / "cache"
    assert not compile_repository(_silo_tenant_naming_a_pool(spec_copy), cache=cache).ok
    assert UnitStore(cache / UNITS_FOLDER).load_index(NAMESPACE) == {}
    assert compile_repository(SPECS, cache=cache).ok
    assert UnitStore(cache / UNITS_FOLDER).load_index(NAMESPACE), "a valid compile stores its name plans"


def test_the_rules_run_here_when_their_helper_dies(spec_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _silo_tenant_naming_a_pool(spec_copy)
    _one_process(monkeypatch)
    alone = compile_repository(specs)
    _everything_parallel(monkeypatch)
    monkeypatch.setattr(pipeline, "rule_findings", lambda index: _die_hard())
    forked = compile_repository(specs)
    assert _diagnostics(forked) == _diagnostics(alone)


@pytest.mark.parametrize("where", ["same-half", "across-halves"])
def test_name_collisions_are_found_whichever_process_built_each_stack(
    where: str, spec_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azure storage account names drop hyphens: tenants 'globex' and 'glo-bex' derive the same one."""
    globex = (SPECS / "tenants" / "globex.yaml").read_text(encoding="utf-8")
    specs = spec_copy({"tenants/glo-bex.yaml": globex.replace("globex", "glo-bex")})
    _one_process(monkeypatch)
    alone = compile_repository(specs)
    assert [d.code for d in alone.diagnostics] == ["PB0601"]

    _everything_parallel(monkeypatch)

    def split(units) -> int:
        second = [u.address for u in units].index("tenant/globex")
        return second if where == "across-halves" else second + 1

    monkeypatch.setattr(terraform_emitter, "split_point", split)
    forked = compile_repository(specs)
    assert _diagnostics(forked) == _diagnostics(alone) and not forked.tree


# --- streaming writes -------------------------------------------------------------------------


def _parts() -> list[dict[str, bytes]]:
    return [{f"terraform/s{i}/main.tf.json": b'{"i": %d}\n' % i for i in range(30)},
            {f"tenants/t{i}.json": b"{}\n" for i in range(30)},
            {"manifest.json": b'{\n  "generatedBy": "paybill"\n}\n'}]


def _whole(parts: list[dict[str, bytes]]) -> dict[str, bytes]:
    tree: dict[str, bytes] = {}
    for part in parts:
        tree.update(part)
    return dict(sorted(tree.items()))


def test_streaming_write_swaps_in_exactly_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree({"manifest.json": b'{"generatedBy": "paybill"}', "stale.json": b"{}"}, out)
    parts = _parts()
    progress: list[int] = []
    with StreamingWrite(out, parallelism=Parallelism(min_items=10)) as writer:
        for part in parts:
            writer.add(part)
        assert len(writer._jobs) == 2  # the two large parts went to helpers; the manifest waits
        writer.commit(_whole(parts), progress.append)
    assert read_tree(out) == _whole(parts)
    assert sum(progress) == len(_whole(parts))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_leaving_without_commit_discards_everything(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    before = {"manifest.json": b'{"generatedBy": "paybill"}'}
    write_tree(before, out)
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        for part in _parts():
            writer.add(part)
    assert read_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_bytes_changed_after_streaming_are_written_as_committed(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    parts = _parts()
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        for part in parts:
            writer.add(part)
        final = _whole(parts)
        final["terraform/s3/main.tf.json"] = b'{"changed": true}\n'
        del final["tenants/t7.json"]
        writer.commit(final)
    assert read_tree(out) == final


def test_a_helper_failing_to_write_leaves_the_old_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "generated"
    before = {"manifest.json": b'{"generatedBy": "paybill"}'}
    write_tree(before, out)

    def no_space(scratch: Path, part, parent: int) -> int:
        (scratch / "half.json").write_bytes(b"{")
        raise OSError(errno.ENOSPC, "No space left on device", str(scratch / "half.json"))

    monkeypatch.setattr(stream, "_write_part", no_space)  # the fork inherits the patched function
    parts = _parts()
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        for part in parts:
            writer.add(part)
        with pytest.raises(OSError) as caught:
            writer.commit(_whole(parts))
    assert caught.value.errno == errno.ENOSPC
    assert read_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_an_output_folder_that_is_not_ours_is_refused_at_commit(tmp_path: Path) -> None:
    from paybill.write.tree import UnsafeOutput

    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        for part in _parts():
            writer.add(part)  # nothing starts: the folder may not be replaced
        assert not writer._jobs
        with pytest.raises(UnsafeOutput):
            writer.commit(_whole(_parts()))
    assert (out / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]


# --- files written as they are rendered (paybill.emit.files) -----------------------------------


def test_files_written_early_leave_only_digests_and_give_the_same_tree(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _one_process(monkeypatch)
    alone = compile_repository(SPECS)
    _everything_parallel(monkeypatch)
    monkeypatch.setattr(terraform_emitter, "WRITE_CHUNK", 2)  # several writes per half
    out = tmp_path / "generated"
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        early = writer.early()
        assert early is not None
        result = compile_repository(SPECS, on_files=writer.add, writer=early)
        assert result.ok and isinstance(result.tree, OutputFiles)
        written = result.tree.written_paths
        # Terraform stacks (both halves) and the independent emitters' files (the helper's) were written early.
        assert {p for p in written if p.startswith("terraform/")} >= {s["files"][0] for s in alone.stacks}
        assert any(not p.startswith("terraform/") for p in written)
        assert "manifest.json" in written
        assert result.tree.in_memory() is None and not any(result.tree._data.get(p) for p in written)
        assert list(result.tree) == list(alone.tree)
        assert tree_size(result.tree) == sum(len(data) for data in alone.tree.values())
        assert result.manifest == alone.manifest
        assert dict(result.tree) == alone.tree  # read back from the scratch tree, checked by digest
        writer.commit(result.tree)
    assert read_tree(out) == alone.tree
    assert result.tree["manifest.json"] == alone.tree["manifest.json"]
    some = sorted(written)[0]
    assert result.tree[some] == alone.tree[some]  # now read back from the output folder
    (out / some).write_bytes(b"edited by hand")
    with pytest.raises(WrittenFileChanged):
        result.tree[some]  # never silently the wrong bytes


class _RecordingWriter:
    """A :class:`~paybill.emit.files.ScratchWriter` that keeps what it is given, call by call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, bytes]] = []
        self.streamed: list[tuple[str, list[bytes]]] = []

    def write_now(self, files, digests=None):
        self.calls.append(dict(files))
        return {path: Written(len(data), hashlib.sha256(data).digest()) for path, data in files.items()}

    def write_stream(self, path, chunks):
        pieces = list(chunks)
        self.streamed.append((path, pieces))
        data = b"".join(pieces)
        return Written(len(data), hashlib.sha256(data).digest())

    def where(self) -> Path:
        raise AssertionError("nothing reads the files back here")


@pytest.mark.parametrize("emitter", [SQL_EMITTER, ENTITLEMENTS_EMITTER], ids=lambda e: e.name)
def test_sql_and_entitlements_write_their_files_in_chunks_as_they_render(emitter, monkeypatch: pytest.MonkeyPatch
                                                                         ) -> None:
    """Streaming, these emitters hold at most a chunk of files (the helper running them was the
    100,000-tenant compile's largest process when they returned every file at the end)."""
    index = validate_repository(SPECS).index
    alone = emitter.emit(EmitContext(index, DiagnosticSink()))
    monkeypatch.setattr(emit_files, "WRITE_CHUNK_FILES", 3)
    writer = _RecordingWriter()
    ctx = EmitContext(index, DiagnosticSink(), writer=writer)
    assert emitter.emit(ctx) == {}
    assert len(writer.calls) > 1 and all(len(call) <= 3 for call in writer.calls)
    assert {path: data for call in writer.calls for path, data in call.items()} == alone
    assert set(ctx.written) == set(alone) == set(ctx.digests)
    assert all(ctx.digests[path] == hashlib.sha256(data).digest() for path, data in alone.items())


def test_the_manifest_is_written_as_it_is_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streaming, manifest.json goes to the writer in pieces; only its size and digest stay."""
    _one_process(monkeypatch)
    alone = compile_repository(SPECS).tree["manifest.json"]
    monkeypatch.setattr(manifest_emitter, "MANIFEST_CHUNK", 4096)
    writer = _RecordingWriter()
    result = compile_repository(SPECS, writer=writer)
    [(path, pieces)] = writer.streamed
    assert path == "manifest.json" and len(pieces) > 1 and all(len(p) < 4096 + 2048 for p in pieces[:-1])
    assert b"".join(pieces) == alone
    assert isinstance(result.tree, OutputFiles) and result.tree.written("manifest.json") is not None
    assert result.digests["manifest.json"] == hashlib.sha256(alone).digest()


def test_a_failed_compile_discards_what_it_wrote_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _everything_parallel(monkeypatch)

    def mismatch(terraform, units, index, emitters, sink: DiagnosticSink) -> None:  # after every emitter ran
        sink.error("PB0693", "stack dependencies disagree with the graph", "specs", Position())

    monkeypatch.setattr(pipeline, "check_stacks", mismatch)
    out = tmp_path / "generated"
    before = {"manifest.json": b'{"generatedBy": "paybill"}'}
    write_tree(before, out)
    with StreamingWrite(out, parallelism=Parallelism(min_items=1)) as writer:
        result = compile_repository(SPECS, on_files=writer.add, writer=writer.early())
        assert not result.ok and not result.tree
        assert any(writer.where().rglob("main.tf.json")), "nothing was written early: the test proves nothing"
    assert read_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".generated")) == []


def _cli(*args: str, cache: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``paybill`` with every helper forced on (the one setting, from the environment). It runs in the
    repository (``specs`` is its example), so it gets a cache folder of the test's own: the default,
    the repository's ``.paybill/cache``, would be shared with whatever else compiles there (another
    xdist worker, an earlier run) and a warm one would let cached units stand in for the helpers."""
    environ = {**os.environ, MIN_ITEMS_ENV: "1", "PAYBILL_CACHE_DIR": str(cache), **(env or {})}
    environ.pop(NO_FORK_ENV, None)
    return subprocess.Popen([sys.executable, "-m", "paybill", *args], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_cli_compile_with_every_helper_reproduces_the_committed_tree(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    run = _cli("compile", "specs", "--out", str(out), cache=tmp_path / "cache")
    assert run.wait(timeout=120) == 0, run.stderr.read()
    assert read_tree(out) == read_tree(ROOT / "generated")


def test_cli_compile_with_every_helper_saves_what_the_next_compile_reads(tmp_path: Path) -> None:
    """The parsed-file cache and the delta state are saved by a helper while the output is written."""
    from paybill.changes.manifest_index import load_manifest_index
    from paybill.changes.record import load_record
    from paybill.delta import load_state
    from paybill.load.cache import LoadCache
    from paybill.load.document import git_blob_id

    out, cache = tmp_path / "generated", tmp_path / "cache"
    run = _cli("compile", "specs", "--out", str(out), cache=cache)
    assert run.wait(timeout=120) == 0, run.stderr.read()
    assert load_state(cache, out) is not None
    parsed = LoadCache(cache, ROOT / "specs").displays()
    assert len(parsed) == len(list((ROOT / "specs").rglob("*.yaml")))
    # the compile record and manifest index for `paybill plan`, read from the written manifest
    manifest = (out / "manifest.json").read_bytes()
    indexed = load_manifest_index(cache, git_blob_id(manifest))
    assert indexed is not None and indexed[0] == hashlib.sha256(manifest).hexdigest()
    inputs = json.loads(manifest)["inputs"]
    assert load_record(cache, inputs) is not None

    # a plan edit (not one the delta compile patches) after a compile that left a journal: the linked
    # writer keeps the tree in memory, and the helper saves beside the write
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    out = tmp_path / "generated-copy"
    run = _cli("compile", str(specs), "--out", str(out), cache=cache)
    assert run.wait(timeout=120) == 0, run.stderr.read()
    bluth = specs / "tenants" / "bluth.yaml"
    bluth.write_text(bluth.read_text().replace("plan: starter", "plan: growth", 1))
    run = _cli("compile", str(specs), "--out", str(out), cache=cache)
    assert run.wait(timeout=120) == 0, run.stderr.read()
    manifest = (out / "manifest.json").read_bytes()
    assert load_record(cache, json.loads(manifest)["inputs"]) is not None
    assert load_manifest_index(cache, git_blob_id(manifest)) is not None
    assert load_state(cache, out) is not None


def _descendants(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the helper processes")
def test_sigkill_mid_write_kills_the_helpers_and_keeps_the_old_tree(spec_copy, tmp_path: Path) -> None:
    specs = spec_copy({})
    out = tmp_path / "generated"
    # The streaming writer's helpers are what this test kills; with a cache the second compile would
    # link unchanged files instead (paybill.write.journal; its kill test is in test_compile_write).
    first = _cli("compile", str(specs), "--out", str(out), "--no-cache", cache=tmp_path / "cache")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = read_tree(out)

    slow = _cli("compile", str(specs), "--out", str(out), "--no-cache", cache=tmp_path / "cache",
                env={"PAYBILL_TEST_WRITE_DELAY": "0.05"})
    deadline = time.monotonic() + 60
    helpers: list[int] = []
    while time.monotonic() < deadline and slow.poll() is None:
        scratch = list(tmp_path.glob(".generated.tmp-*"))
        helpers = _descendants(slow.pid)
        if scratch and helpers and sum(1 for f in scratch[0].rglob("*") if f.is_file()) >= 3:
            break
        time.sleep(0.02)
    assert helpers, f"no helper was writing (exit {slow.poll()})"
    slow.send_signal(signal.SIGKILL)
    assert slow.wait(timeout=30) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in helpers):
        time.sleep(0.05)
    alive = [pid for pid in helpers if Path(f"/proc/{pid}/stat").exists()
             and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"helpers outlived the killed compile: {alive}"
    assert read_tree(out) == before

    again = _cli("compile", str(specs), "--out", str(out), cache=tmp_path / "cache")
    assert again.wait(timeout=120) == 0, again.stderr.read()
    assert read_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".generated")) == []


def test_durable_streaming_write_flushes_after_the_helpers_and_before_the_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paybill.write import tree as tree_module

    events: list[str] = []
    real_result = stream.ForkedCall.result

    def result(self):
        events.append("helper done")
        return real_result(self)

    monkeypatch.setattr(stream.ForkedCall, "result", result)
    monkeypatch.setattr(tree_module, "syncfs", lambda path: events.append("sync") or True)
    monkeypatch.setattr(tree_module, "has_syncfs", lambda: True)
    monkeypatch.setattr(stream, "has_syncfs", lambda: True)
    real_exchange = tree_module.exchange
    monkeypatch.setattr(tree_module, "exchange", lambda a, b: events.append("swap") or real_exchange(a, b))
    out = tmp_path / "generated"
    write_tree({"manifest.json": b'{"generatedBy": "paybill"}'}, out)
    events.clear()
    parts = _parts()
    with StreamingWrite(out, durable=True, parallelism=Parallelism(min_items=10)) as writer:
        for part in parts:
            writer.add(part)
        writer.commit(_whole(parts))
    assert events == ["helper done", "helper done", "sync", "swap"]
    assert read_tree(out) == _whole(parts)


def test_a_cycle_found_while_the_helper_runs_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The independent emitters' helper starts before the graph is built; a cycle must end it."""
    from paybill.graph.model import EdgeInfo

    real = pipeline.build_graph
    started: list[int] = []
    real_start = pipeline.start_apart

    def start(*args):
        helper = real_start(*args)
        if helper is not None:
            started.append(helper._call.pid)
        return helper

    def cyclic(index, units):
        graph = real(index, units)
        graph.add_edge("Stack/tenant/bluth", "Stack/pool/oci-fra-shared", EdgeInfo("test-only"))
        return graph

    _everything_parallel(monkeypatch)
    monkeypatch.setattr(pipeline, "start_apart", start)
    monkeypatch.setattr(pipeline, "build_graph", cyclic)
    result = compile_repository(SPECS)
    assert not result.ok and result.tree == {}
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["PB0690"]
    assert started, "the helper was meant to be running when the cycle was found"
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)  # already reaped: nothing left running
