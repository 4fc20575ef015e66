"""A snapshot of one whole bundle (ops-agent: tenant list, approval step, update grant, PII forbid).

Review a change here like a change to a security policy: every permit, forbid, golden decision and
hash of the agent that closes tickets in bulk is in it.
"""

from __future__ import annotations

from bundle_support import bundle_files


def test_ops_agent_bundle(example, snapshot):
    tree, _ = example
    files = {name: data.decode("ascii") for name, data in sorted(bundle_files(tree, "ops-agent").items())}
    assert files == snapshot
