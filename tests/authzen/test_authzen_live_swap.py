""":class:`paybill.authzen.live.LiveGuard` in process: a swap during a reload, a shadow kept across reloads."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from guard.guard_support import SPECS, compile_bundles
from paybill.authzen import live
from paybill.authzen.live import LiveGuard, Origin, Unavailable
from paybill.guard import Guard
from paybill.guard.shadow import ShadowGuard

AGENT = "ops-agent"


@pytest.fixture(scope="module")
def revisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ops-agent's bundle with initech active, suspended and offboarding (three revisions)."""
    found = {}
    for state, billing, since in (("active", "active", ""), ("suspended", "past_due", ""),
                                  ("offboarding", "cancelled", '\n  lifecycleSince: "2026-11-20"')):
        root = tmp_path_factory.mktemp(state)
        shutil.copytree(SPECS, root / "specs")
        spec = root / "specs" / "tenants" / "initech.yaml"
        text = re.sub(r"(?m)^  lifecycle: \S+$", f"  lifecycle: {state}{since}", spec.read_text(encoding="utf-8"))
        spec.write_text(re.sub(r"(?m)^    status: \S+$", f"    status: {billing}", text), encoding="utf-8")
        found[state] = compile_bundles(root / "specs", root / "out") / AGENT
    return found


def _deploy(source: Path, target: Path) -> None:
    """Swap ``source``'s copy in at ``target`` in one rename."""
    staged = target.with_name(target.name + ".new")
    shutil.copytree(source, staged)
    if target.exists():
        os.rename(target, target.with_name(target.name + ".old"))
    os.rename(staged, target)
    shutil.rmtree(target.with_name(target.name + ".old"), ignore_errors=True)


def _lifecycle(guard: Guard | ShadowGuard) -> str:
    return guard.bundle.tenant_lifecycles["initech"]


def test_a_bundle_swapped_in_while_a_reload_reads_is_loaded_by_the_next_request(revisions, tmp_path, monkeypatch):
    folder = tmp_path / AGENT
    _deploy(revisions["active"], folder)
    follower = LiveGuard.load(Origin(folder))
    real = live.load

    def swapped_during(origin: Origin, agent: str | None = None) -> Guard:
        guard = real(origin, agent)  # the suspended bundle, read; the next compile lands before it is served
        monkeypatch.setattr(live, "load", real)
        _deploy(revisions["offboarding"], folder)
        return guard

    _deploy(revisions["suspended"], folder)
    monkeypatch.setattr(live, "load", swapped_during)
    assert _lifecycle(follower.current()) == "suspended"
    assert _lifecycle(follower.current()) == "offboarding", "the bundle deployed during the reload was never loaded"


def test_a_shadow_follows_every_reload_and_a_missing_folder_is_refused(revisions, tmp_path):
    folder = tmp_path / AGENT
    _deploy(revisions["active"], folder)
    said: list[str] = []
    follower = LiveGuard.load(Origin(folder), report=said.append)
    candidate = Guard.load(revisions["offboarding"])
    follower.rewrap(lambda loaded: ShadowGuard(loaded, candidate, log=tmp_path / "shadow.jsonl"))
    _deploy(revisions["suspended"], folder)
    current = follower.current()
    assert isinstance(current, ShadowGuard) and current.candidate is candidate and _lifecycle(current) == "suspended"

    shutil.rmtree(folder)
    with pytest.raises(Unavailable, match=r"refused \(missing\)"):
        follower.current()
    assert follower.revision is None
    _deploy(revisions["suspended"], folder)
    assert _lifecycle(follower.current()) == "suspended"
    assert [line.split(" ", 1)[0] for line in said] == ["now", "bundle", "now"], said


def test_a_folder_that_now_holds_another_agents_bundle_is_refused(revisions, tmp_path):
    """Without --expect-agent the endpoint still decides for one agent: the one it started with."""
    folder = tmp_path / AGENT
    _deploy(revisions["active"], folder)
    follower = LiveGuard.load(Origin(folder))
    _deploy(revisions["active"].parent / "billing-agent", folder)
    with pytest.raises(Unavailable, match=r"refused \(agent\).*not the expected 'ops-agent'"):
        follower.current()


def test_a_request_on_another_thread_during_a_reload_waits_for_the_new_bundle(revisions, tmp_path, monkeypatch):
    """The followed identity was updated before the load: a second thread seeing the new manifest took the
    unlocked path and decided with the replaced bundle (the tenant still active) while the first loaded."""
    import threading

    folder = tmp_path / AGENT
    _deploy(revisions["active"], folder)
    follower = LiveGuard.load(Origin(folder))
    real, loading, release = live.load, threading.Event(), threading.Event()

    def slow(origin: Origin, agent: str | None = None) -> Guard:
        loading.set()
        assert release.wait(30)
        return real(origin, agent)

    monkeypatch.setattr(live, "load", slow)
    _deploy(revisions["suspended"], folder)
    first = threading.Thread(target=follower.current)
    first.start()
    assert loading.wait(30)
    seen: list[str] = []
    second = threading.Thread(target=lambda: seen.append(_lifecycle(follower.current())))
    second.start()
    second.join(0.5)
    assert not seen, "a request answered while the new bundle was being loaded"
    release.set()
    first.join(30)
    second.join(30)
    assert seen == ["suspended"]
