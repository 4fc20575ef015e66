"""Snapshots of two whole database folders: a pooled one (row-level security, a scoped agent) and a
silo one (three agents). Review the .ambr file when the emitter changes on purpose."""

from __future__ import annotations

from sql_support import Emitted, databases, folder


def test_pool_database_folder(example: Emitted, snapshot) -> None:  # type: ignore[no-untyped-def]
    files = folder(example[0], "pool-gcp-usc1-shared")
    assert {name: body.decode() for name, body in files.items()} == snapshot


def test_silo_database_folder(example: Emitted, snapshot) -> None:  # type: ignore[no-untyped-def]
    files = folder(example[0], "tenant-acme-corp")
    assert {name: body.decode() for name, body in files.items()} == snapshot


def test_database_list(example: Emitted, snapshot) -> None:  # type: ignore[no-untyped-def]
    assert databases(example[0]) == snapshot
