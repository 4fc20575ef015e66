"""Snapshots of the compile outputs this package owns: the manifest and tenant entitlements.

The manifest snapshot covers every stack (addresses, sources, dependencies, waves, content hashes),
so any change in any emitter shows up here as a reviewed diff. Update with --snapshot-update.
"""

from __future__ import annotations

import json

import pytest
from compile_support import compiled

from paybill.graph.render import render


@pytest.fixture(scope="module")
def result():
    return compiled()


def test_manifest(result, snapshot) -> None:
    assert result.tree["manifest.json"].decode() == snapshot


@pytest.mark.parametrize("tenant", ["acme-corp", "bluth", "wayne-enterprises"])
def test_entitlements(result, snapshot, tenant: str) -> None:
    assert result.tree[f"tenants/{tenant}.json"].decode() == snapshot


def test_graph_json(result, snapshot) -> None:
    assert json.loads(render("json", result.graph)) == snapshot
