"""Entitlement files and SQL folders kept in place, as unchanged stacks are (``CompileResult.kept``).

With a journal of its output folder, ``paybill compile`` neither renders, reads back nor hashes a
tenant's entitlement file whose inputs (tenant, plan and cloud documents, its stacks) are those it
was rendered from, nor a database folder whose plan is unchanged, when the journal records them
with the digests they had: they run in the forked helper (``paybill.compile.apart``), which hands
them back with its files. Every test ends on the tree of an uncached compile, byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from compile_support import invoke, read_tree, touch_output

import paybill.emit.entitlements as entitlements
from paybill import store
from paybill.compile import compile_repository
from paybill.forked import MIN_ITEMS_ENV, NO_FORK_ENV
from paybill.write.journal import load_journal


def _spy(monkeypatch: pytest.MonkeyPatch, tenants: list[str]) -> None:
    """Append to ``tenants`` each tenant whose entitlement file is rendered from now on (in this
    process: without a helper, ``PAYBILL_NO_FORK``)."""
    real_render = entitlements._render

    def render(resolved, stacks):
        tenants.append(resolved.name)
        return real_render(resolved, stacks)

    monkeypatch.setattr(entitlements, "_render", render)


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    edited = re.sub(pattern, replacement, text, count=1)
    assert edited != text, pattern
    path.write_text(edited)


@pytest.mark.parametrize("fork", [False, True])
def test_unchanged_entitlements_and_sql_folders_are_kept_in_place(spec_copy, tmp_path: Path, monkeypatch,
                                                                   fork: bool) -> None:
    specs = spec_copy({})
    cache, out = tmp_path / "cache", tmp_path / "generated"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    if fork:  # the helper runs the SQL and entitlement emitters (it starts from this many stacks)
        monkeypatch.setenv(MIN_ITEMS_ENV, "1")
        monkeypatch.delenv(NO_FORK_ENV, raising=False)
    else:
        monkeypatch.setenv(NO_FORK_ENV, "1")

    rendered: list[str] = []  # tenants whose entitlement file the CLI's compile rendered (once spied on)

    def compile_cli() -> None:
        result = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
        assert result.exit_code == 0, result.output
        counted = len(rendered)
        assert read_tree(out) == compile_repository(specs).tree  # (its renders are not counted)
        del rendered[counted:]

    compile_cli()  # whole tree written, journal saved
    touch_output(out)
    compile_cli()  # linked: the old tree becomes the spare
    full = compile_repository(specs)
    journal = load_journal(cache, out)
    kept = compile_repository(specs, cache=cache, out=out,
                              in_place={path: entry[3] for path, entry in journal.items()})
    tenant_files = {p for p in full.tree if p.startswith("tenants/")}
    sql_files = {p for p in full.tree if p.startswith("sql/")}
    assert len(tenant_files) > 10 and len(sql_files) > 10
    assert tenant_files | sql_files <= set(kept.kept) and not (tenant_files | sql_files) & set(kept.tree)
    assert {**kept.tree, **{p: full.tree[p] for p in kept.kept}} == full.tree
    assert kept.manifest == full.manifest

    tenants = rendered
    _spy(monkeypatch, tenants)
    if not fork:
        # a label that moves the tenant into an agent's scope (one that moves none is patched in without
        # the stages, paybill.delta): only that tenant's file is rendered again. oscorp is on growth, a plan
        # with ai-agents and room for one more (PB0450, PB0451)
        _edit(specs / "tenants" / "oscorp.yaml", r"support-tier: standard", "support-tier: premium")
        compile_cli()
        assert sorted(set(tenants) - {"oscorp"}) == [] and "oscorp" in tenants
        # a plan's document (a field no stack reads): the file of every tenant on that plan, no other
        tenants.clear()
        _edit(specs / "plans" / "growth.yaml", r"trialDays: \d+", "trialDays: 30")
        compile_cli()
        on_growth = {d.name for d in full.index.of_kind("Tenant") if d.model.spec.plan == "growth"}
        assert on_growth and set(tenants) == on_growth
        # a tenant's plan: its file only (the plan documents are unchanged)
        tenants.clear()
        _edit(specs / "tenants" / "hooli.yaml", r"\n  plan: \w+", "\n  plan: growth")
        compile_cli()
        assert tenants == ["hooli"]
    # a kept file edited by hand in the output folder is written again, never trusted
    victim = out / "tenants" / "globex.json"
    victim.write_bytes(victim.read_bytes().replace(b"globex", b"GLOBEX", 1))
    sql_file = next(p for p in sorted((out / "sql").rglob("*.sql")))
    sql_file.write_bytes(sql_file.read_bytes() + b"-- edited\n")
    _edit(specs / "tenants" / "acme-corp.yaml", r"labels: \{", "labels: {again: y, ")
    compile_cli()
