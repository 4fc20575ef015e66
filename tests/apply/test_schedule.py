"""``paybill apply plan``: which units, in which phases, packed into how many shards."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.apply.errors import TOO_MANY_JOBS, TOO_MANY_PHASES, ApplyError
from paybill.apply.jobfile import github_outputs, plan_to_json
from paybill.apply.manifest import parse_manifest
from paybill.apply.schedule import GITHUB_MATRIX_LIMIT, allocate, pack, plan_jobs

from .support import manifest, removed, sql_files, stack

NOV_9 = datetime.date(2026, 11, 9)


def parsed(document: dict) -> object:
    return parse_manifest(document, "generated/manifest.json")


def phases(plan) -> list[tuple[str, list[str]]]:
    return [(p.label, sorted(f"{u.action}:{u.address}" for s in p.shards for u in s.units)) for p in plan.phases]


def test_only_changed_stacks_are_applied_wave_by_wave() -> None:
    base = manifest([stack("pool/p", 1), stack("tenant/a", 2), stack("tenant/b", 2)])
    head = manifest([stack("pool/p", 1, hash="sha256:new"), stack("tenant/a", 2), stack("tenant/b", 2, hash="x"),
                     stack("tenant/c", 3)])
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert phases(plan) == [("wave 1", ["apply:pool/p"]), ("wave 2", ["apply:tenant/b"]),
                            ("wave 3", ["apply:tenant/c"])]
    assert [p.action for p in plan.phases] == ["apply"] * 3
    no_base = plan_jobs(parsed(head), None, today=NOV_9)
    assert sum(len(s.units) for p in no_base.phases for s in p.shards) == 4


def test_a_one_tenant_change_is_one_job() -> None:
    stacks = [stack(f"tenant/t{i:03d}", 2) for i in range(300)] + [stack("pool/p", 1)]
    base = manifest(stacks)
    head = manifest([{**s, "hash": "changed"} if s["address"] == "tenant/t042" else s for s in stacks])
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert plan.jobs == 1 and phases(plan) == [("wave 2", ["apply:tenant/t042"])]


def test_migrations_ride_with_the_stack_that_creates_the_database() -> None:
    sql = {"sql/tenant-a": "sha256:1", "sql/tenant-b": "sha256:1", "sql/pool-p": "sha256:1"}
    base = manifest([stack("pool/p", 1), stack("tenant/a", 2), stack("tenant/b", 2)], sql=sql)
    head = manifest([stack("pool/p", 1), stack("tenant/a", 2, hash="new"), stack("tenant/b", 2)],
                    sql={**sql, "sql/pool-p": "sha256:2"})
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    units = {u.address: u for p in plan.phases for s in p.shards for u in s.units}
    # tenant/a changed: applied, then its database migrated; pool/p's SQL changed alone: migrate only
    assert (units["tenant/a"].action, units["tenant/a"].migrate) == ("apply", "sql/tenant-a")
    assert (units["pool/p"].action, units["pool/p"].migrate) == ("migrate", "sql/pool-p")
    assert "tenant/b" not in units
    assert phases(plan) == [("wave 1", ["migrate:pool/p"]), ("wave 2", ["apply:tenant/a"])]


def test_a_database_whose_sql_is_unchanged_is_not_migrated_when_only_its_sources_changed() -> None:
    base = manifest([stack("pool/p", 1), stack("tenant/a", 2)])
    head = manifest([stack("pool/p", 1), stack("tenant/a", 2, hash="new")])
    base["outputs"]["sql"] = sql_files("sql/pool-p", "sha256:1", sources="sha256:a-before")
    head["outputs"]["sql"] = sql_files("sql/pool-p", "sha256:1", sources="sha256:a-after")
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert phases(plan) == [("wave 2", ["apply:tenant/a"])]
    head["outputs"]["sql"] = sql_files("sql/pool-p", "sha256:2", sources="sha256:a-after")
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert phases(plan) == [("wave 1", ["migrate:pool/p"]), ("wave 2", ["apply:tenant/a"])]


def test_destroys_come_after_the_waves_that_still_need_them_and_tenants_before_pools() -> None:
    base = manifest([stack("pool/old", 1), stack("pool/new", 1), stack("tenant/moved", 2, depends_on=("pool/old",)),
                     stack("tenant/gone", 2, depends_on=("pool/old",)), stack("tenant/alone", 1)])
    head = manifest([stack("pool/new", 1), stack("tenant/moved", 2, hash="now-on-new", depends_on=("pool/new",))],
                    [removed("pool/old"), removed("tenant/gone"), removed("tenant/alone")])
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert phases(plan) == [
        ("destroy", ["destroy:tenant/alone", "destroy:tenant/gone"]),  # nothing live reads them
        ("wave 2", ["apply:tenant/moved"]),
        ("destroy after wave 2", ["destroy:pool/old"]),  # read by tenant/moved until wave 2 applied it
    ]
    # without the base graph: every destroy after the last wave, tenants before pools
    blind = plan_jobs(parsed(head), None, today=NOV_9)
    assert [(label, units) for label, units in phases(blind) if "destroy" in label] == [
        ("destroy after wave 2", ["destroy:tenant/alone", "destroy:tenant/gone"]),
        ("destroy after wave 2 (step 2)", ["destroy:pool/old"])]


def test_removed_stacks_are_held_until_their_retention_ends_and_so_is_what_they_read() -> None:
    base = manifest([stack("pool/old", 1), stack("tenant/gone", 2, depends_on=("pool/old",))])
    head = manifest([], [removed("pool/old", "2026-11-01"), removed("tenant/gone", "2026-12-01"),
                         removed("tenant/nodate", None), removed("tenant/noconf", path=False)])
    plan = plan_jobs(parsed(head), parsed(base), today=NOV_9)
    assert plan.phases == ()
    assert plan.held == ("tenant/gone: held until 2026-12-01, the end of its data retention; the first apply run "
                         "on or after that day destroys it (a push to main, or the apply workflow run by hand)",
                         "tenant/nodate: held, its tenant has no spec.lifecycleSince, so the end of its data "
                         "retention is unknown",
                         "tenant/noconf: no decommission configuration in the manifest; recompile with this paybill",
                         "pool/old: held, removed stack tenant/gone still reads it and is not destroyed yet")
    later = plan_jobs(parsed(head), parsed(base), today=datetime.date(2026, 12, 1))
    assert phases(later) == [("destroy", ["destroy:tenant/gone"]), ("destroy (step 2)", ["destroy:pool/old"])]


def test_vanished_stacks_are_reported() -> None:
    base = manifest([stack("pool/p"), stack("tenant/a")])
    head = manifest([stack("pool/p")], [])
    assert plan_jobs(parsed(head), parsed(base), today=NOV_9).vanished == ("tenant/a",)


def test_shards_are_balanced_by_resources_and_deterministic() -> None:
    stacks = [stack(f"tenant/t{i:02d}", 1, resources=r) for i, r in enumerate([50, 40, 30, 20, 10, 10, 10, 10])]
    plan = plan_jobs(parsed(manifest(stacks)), None, today=NOV_9, shards_per_phase=3)
    loads = sorted(s.resources for s in plan.phases[0].shards)
    assert loads == [60, 60, 60]
    again = plan_jobs(parsed(manifest(list(reversed(stacks)))), None, today=NOV_9, shards_per_phase=3)
    assert plan_to_json(plan) == plan_to_json(again)  # input order does not matter


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 500), min_size=1, max_size=80), st.integers(1, 20))
def test_packing_keeps_every_unit_once_and_is_within_the_greedy_bound(weights: list[int], shards: int) -> None:
    from paybill.apply.schedule import Unit

    units = [Unit("apply", f"tenant/t{i:03d}", "h", w) for i, w in enumerate(weights)]
    groups = pack(units, shards)
    assert sorted(u.address for g in groups for u in g) == sorted(u.address for u in units)
    assert len(groups) <= shards
    loads = [sum(u.weight for u in g) for g in groups]
    # LPT: the heaviest shard is within one unit of the ideal share
    assert max(loads) <= sum(loads) / len(groups) + max(u.weight for u in units)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=12), st.integers(1, 300))
def test_allocation_fits_the_budget(sizes: list[int], budget: int) -> None:
    counts = allocate(sizes, budget)
    nonempty = sum(1 for n in sizes if n)
    assert all((c >= 1) == (n >= 1) and c <= n for c, n in zip(counts, sizes, strict=True))
    assert sum(counts) <= max(budget, nonempty)
    if budget >= sum(sizes):
        assert counts == sizes


def test_ten_thousand_changed_stacks_fit_one_run_of_256_jobs() -> None:
    stacks = [stack(f"pool/p{i:02d}", 1, resources=40) for i in range(50)]
    stacks += [stack(f"tenant/t{i:05d}", 2 + i % 2, resources=5 + i % 17) for i in range(9_950)]
    head = manifest(stacks, [removed(f"tenant/old{i}") for i in range(30)])
    started = time.perf_counter()
    plan = plan_jobs(parsed(head), None, today=NOV_9)
    elapsed = time.perf_counter() - started
    assert plan.jobs <= GITHUB_MATRIX_LIMIT
    assert [p.label for p in plan.phases] == ["wave 1", "wave 2", "wave 3", "destroy after wave 3"]
    addresses = [u.address for p in plan.phases for s in p.shards for u in s.units]
    assert len(addresses) == len(set(addresses)) == 10_030
    for phase in plan.phases:
        loads = [s.resources for s in phase.shards]
        assert max(loads) - min(loads) <= 40  # balanced to within one heavy stack
    outputs = github_outputs(plan)
    matrices = json.loads(outputs["phases"])
    assert sum(m["count"] for m in matrices.values()) == plan.jobs == int(outputs["jobs"])
    assert all(len(m["matrix"]["include"]) <= GITHUB_MATRIX_LIMIT for m in matrices.values())
    assert outputs["destroys"] == "30"
    assert elapsed < 5, f"planning 10,000 stacks took {elapsed:.1f} s"


def test_a_run_that_cannot_fit_is_an_error() -> None:
    head = manifest([stack(f"tenant/t{w}", w) for w in range(1, 11)])
    with pytest.raises(ApplyError) as error:
        plan_jobs(parsed(head), None, today=NOV_9)
    assert error.value.problems[0].code == TOO_MANY_PHASES
    assert "needs 10 phases" in error.value.problems[0].message
    with pytest.raises(ApplyError) as error:
        plan_jobs(parsed(head), None, today=NOV_9, max_phases=10, max_jobs=5)
    assert error.value.problems[0].code == TOO_MANY_JOBS
    wide = manifest([stack(f"tenant/t{i}", 1 + i % 2) for i in range(400)])
    with pytest.raises(ApplyError) as error:
        plan_jobs(parsed(wide), None, today=NOV_9, shards_per_phase=200)
    assert error.value.problems[0].code == TOO_MANY_JOBS
    plan = plan_jobs(parsed(wide), None, today=NOV_9, shards_per_phase=100)
    assert [len(p.shards) for p in plan.phases] == [100, 100]


def test_a_manifest_that_is_not_what_paybill_writes_is_reported_whole() -> None:
    with pytest.raises(ApplyError) as error:
        parse_manifest({"stacks": [{"address": "tenant/a", "wave": "two"}, "x"], "removed": {}}, "m.json")
    messages = [p.message for p in error.value.problems]
    assert {p.code for p in error.value.problems} == {"PB1201"}
    assert any("stacks[0].wave" in m for m in messages) and any("stacks[1]" in m for m in messages)
    assert any("'removed' must be a list" in m for m in messages)
