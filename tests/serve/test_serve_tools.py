"""The tools `paybill serve` lists, built from this repository's compiled bundles and catalogs (no
database): what an agent can learn from ``tools/list`` alone about the paths and limits it is held to."""

from __future__ import annotations

from pathlib import Path

from paybill.guard import Guard
from paybill.guard.db import load_catalog
from paybill.serve.tools import build_tools

GENERATED = Path(__file__).resolve().parents[2] / "generated"


def test_advance_step_names_each_steps_visit_limit_and_approval() -> None:
    guard = Guard.load(GENERATED / "bundles" / "support-assistant")
    tools = {t.name: t for t in build_tools(guard, load_catalog(GENERATED / "sql" / "tenant-acme-corp"),
                                            propose=False)}
    advance = tools["advance_step"].description
    assert "fetch-ticket -> lookup-customer (at most 5 visits)" in advance, advance
    assert "lookup-customer -> fetch-ticket (at most 5 visits)|done" in advance, advance
    start = tools["start_run"].description
    assert "20 steps entered, 500 rows read, 0 rows written, 60 calls per minute, 120 s" in start, start
