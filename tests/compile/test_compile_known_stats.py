"""The load takes the spec files' stats from ``paybill compile``'s scan (:class:`paybill.load.cache.KnownStats`).

The whole-compile short cut stats every spec file before anything else; the parsed-file cache used to
stat them all again. These tests check that it no longer does, that the output is unchanged, and that
a stat taken before the load still makes what the load records racy (verified by content) for as long
as its own stat would.
"""

from __future__ import annotations

import os
import time
import types
from pathlib import Path

from compile_support import invoke, read_tree

import paybill.load.cache as load_cache
import paybill.load.reader as reader
from paybill import store
from paybill.compile import compile_repository
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_repository
from paybill.load.cache import KnownStats


def test_a_compile_stats_each_spec_file_once(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    stated: list[str] = []
    real = reader.file_stat

    def spy(path: Path):
        stated.append(str(path))
        return real(path)

    monkeypatch.setattr(reader, "file_stat", spy)
    assert invoke("compile", str(specs), "--out", str(out), cwd=tmp_path).exit_code == 0
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("labels: {", "labels: {edited: x, ", 1))
    result = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert stated == []
    monkeypatch.delenv(store.CACHE_ENV)
    assert read_tree(out) == compile_repository(specs).tree
    compile_repository(specs, cache=tmp_path / "other")  # no scan handed on: the load stats each file
    assert len(stated) == len(list(specs.rglob("*.yaml")))


def test_a_stat_taken_before_the_load_keeps_the_racy_window_from_that_instant(tmp_path: Path, monkeypatch) -> None:
    """A file rewritten in place with its size and mtime unchanged after it was stat'ed (two writes in
    one timestamp tick) must be read again, even when the load starts long after the stat."""
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = specs / "plan.yaml"
    first = "apiVersion: paybill.dev/v1alpha1\nkind: Plan\nmetadata: {name: aaaa}\n"
    spec.write_text(first)
    taken_ns = time.time_ns()
    info = os.stat(spec)
    known = KnownStats({"specs/plan.yaml": (info.st_size, info.st_mtime_ns, info.st_ino)}, taken_ns)
    later = types.SimpleNamespace(time_ns=lambda: taken_ns + 10 * 10**9)  # the load starts 10 s after the scan
    monkeypatch.setattr(load_cache, "time", later)
    cache = tmp_path / "cache"
    loaded = load_repository(specs, DiagnosticSink(), cache=cache, known=known)
    assert [d.name for d in loaded.documents] == ["aaaa"]
    monkeypatch.undo()
    with open(spec, "r+b") as handle:  # the same inode and size; then the mtime put back
        handle.write(first.replace("aaaa", "bbbb").encode())
    os.utime(spec, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert os.stat(spec).st_mtime_ns == info.st_mtime_ns and os.stat(spec).st_ino == info.st_ino
    again = load_repository(specs, DiagnosticSink(), cache=cache)
    assert [d.name for d in again.documents] == ["bbbb"]
