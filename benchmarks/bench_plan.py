"""``paybill plan`` and ``paybill audit`` on synthetic repositories.

Plan: the 10,000-tenant synthetic repository (``generate.py``) committed to git with its compiled
``generated/`` (as paybill repositories keep it), then one tenant suspended in a second commit that
carries its compiled ``generated/`` too (compiled with an author's own cache folder: CI's
``compile --check`` refuses a pull request without it), then CI's ``compile --check`` of the head.
``plan`` (no cache folder) reads both sides from git objects, validates both, takes the base side's
Terraform from the committed ``generated/`` after checking it against the manifest's input hashes
(or compiles it, ``--compile-base``), compiles the head, compares them stack by stack and renders
the markdown report. ``plan-cached`` does the same with the cache folder the base commit's
``paybill compile`` and the head's ``compile --check`` left (``.paybill/cache``, as a CI cache step
restores it and the review job adds to it): their compile records prove both committed trees, so
no side is compiled at all (:mod:`paybill.plan.committed`). ``plan-process`` is that plan as CI runs
it: a whole ``paybill plan`` process (imports and git children included) on the head's checkout;
target (issue 14): <= 1 s wall. Target
for the plain plan: at most 2 x one
full in-memory compile of the same repository (``compile_repository``: load, validate, graph, every
emitter), measured in the same run. The compile is the *in-memory* one, without writing the tree,
so the ratio is not flattered by disk time.

Audit: a 200-tenant repository with 1,000 further commits, each changing one tenant (plan changes,
suspensions and reactivations, renames; every fourth carries a ``Paybill-Agent:`` trailer), made
with ``git fast-import``. ``audit_history`` walks all of them and renders JSON Lines. Target: <= 10 s.

Each measurement runs in a fresh interpreter (``--child``) so caches are cold and peak RSS is its own;
plan and compile are interleaved over rounds and the best round is kept (a shared machine).

Usage: ``python benchmarks/bench_plan.py [N] [--commits C] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import write_repository  # noqa: E402

DEFAULT_TENANTS = 10_000
AUDIT_TENANTS = 200
DEFAULT_COMMITS = 1_000
TARGET_PLAN_RATIO = 2.0
TARGET_AUDIT_SECONDS = 10.0
TARGET_PLAN_ONE_S = 1.0
"""Issue 14: a one-tenant PR's plan at 10,000 tenants, with the committed base and the cache for the head."""
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_AUTHOR_DATE": "1767225600 +0000",
           "GIT_COMMITTER_DATE": "1767225600 +0000"}


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=True,
                            env={**os.environ, **GIT_ENV})
    return result.stdout.decode()


def make_plan_repo(n: int, root: Path) -> str:
    """Commit the synthetic repository with its compiled ``generated/`` (as a paybill repository keeps
    it), then suspend one active tenant in a second commit; returns the changed file."""
    write_repository(n, root / "specs")
    # compiled as CI does on the base commit, from the repository root: generated/ to commit, and the
    # cache folder (.paybill/cache, git-ignored) that a CI cache step would restore for the PR's plan
    env = {k: v for k, v in os.environ.items() if k != "PAYBILL_CACHE_DIR"}
    subprocess.run([sys.executable, "-m", "paybill", "compile", "specs", "--out", "generated"], cwd=root,
                   env=env, check=True, capture_output=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "synthetic platform")
    tenants = sorted((root / "specs" / "tenants").glob("*.yaml"))
    tenant = next(t for t in tenants[n // 2:] + tenants
                  if "lifecycle: active" in (text := t.read_text(encoding="utf-8")) and "status: active" in text)
    tenant.write_text(tenant.read_text(encoding="utf-8").replace("lifecycle: active", "lifecycle: suspended", 1),
                      encoding="utf-8")
    # the pull request carries its compiled generated/ (CI's `compile --check` refuses it otherwise),
    # compiled on the author's machine (a cache folder of their own)
    with tempfile.TemporaryDirectory(prefix="paybill-bench-author-") as author_cache:
        subprocess.run([sys.executable, "-m", "paybill", "compile", "specs", "--out", "generated"], cwd=root,
                       env={**env, "PAYBILL_CACHE_DIR": author_cache}, check=True, capture_output=True)
    git(root, "commit", "--quiet", "-am", "suspend one tenant")
    check_head(root)
    return tenant.relative_to(root).as_posix()


def check_head(root: Path) -> None:
    """CI's review job before the plan: ``compile --check`` of the head, with the cache folder the base
    commit's compile left (``PAYBILL_CACHE_DIR``, default ``.paybill/cache``): it leaves the head's
    compile record there, which lets the plan take the committed head tree (docs/cache.md)."""
    subprocess.run([sys.executable, "-m", "paybill", "compile", "specs", "--check"], cwd=root, env=dict(os.environ),
                   check=True, capture_output=True)


def _blob_data(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"data %d\n" % len(data) + data + b"\n"


def make_audit_repo(commits: int, root: Path) -> None:
    """200 tenants, then ``commits`` one-tenant changes through one ``git fast-import``."""
    write_repository(AUDIT_TENANTS, root / "specs")
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "synthetic platform")
    tenants = sorted((root / "specs" / "tenants").glob("*.yaml"))
    texts = {t: t.read_text(encoding="utf-8") for t in tenants}
    stream = bytearray()
    for i in range(commits):
        path = tenants[(i * 7) % len(tenants)]
        text = texts[path]
        kind = i % 3
        if kind == 0 and "lifecycle: active" in text:
            text = text.replace("lifecycle: active", "lifecycle: suspended", 1)
        elif kind == 0 and "lifecycle: suspended" in text:
            text = text.replace("lifecycle: suspended", "lifecycle: active", 1)
        elif kind == 1:
            text = text.replace("plan: free", "plan: starter", 1) if "plan: free" in text else \
                text.replace("plan: starter", "plan: free", 1)
        if kind == 2 or text == texts[path]:
            text = text.replace("displayName: ", f"displayName: v{i} ", 1)
        texts[path] = text
        message = f"change {i}: {path.stem}\n"
        if i % 4 == 0:
            message += "\nPaybill-Agent: billing-agent\nApproved-by: Ops <ops@example.com>\n"
        stamp = 1_767_225_600 + 3600 * (i + 1)
        stream += b"commit refs/heads/main\n"
        stream += f"author bench <bench@example.com> {stamp} +0000\n".encode()
        stream += f"committer bench <bench@example.com> {stamp} +0000\n".encode()
        stream += _blob_data(message)
        if i == 0:
            stream += b"from refs/heads/main^0\n"
        stream += f"M 100644 inline {path.relative_to(root).as_posix()}\n".encode() + _blob_data(text)
        stream += b"\n"
    git(root, "fast-import", "--quiet", stdin=bytes(stream))
    git(root, "reset", "--quiet", "--hard", "main")


# -- children: one measurement each, in a fresh interpreter ----------------------------------------

def _measure(work) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    extra = work()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def child_compile(repo: Path) -> dict:
    from paybill.compile import compile_repository

    def work() -> dict:
        result = compile_repository(repo / "specs")
        assert result.ok, [d.message for d in result.diagnostics if d.severity == "error"][:3]
        return {"files": len(result.tree)}

    return _measure(work)


def child_plan(repo: Path, compile_base: bool = False, cached: bool = False) -> dict:
    from paybill.changes.sides import resolve_sides
    from paybill.plan.render.markdown import render_markdown
    from paybill.plan.run import plan_sides
    from paybill.store import UNITS_FOLDER, UnitStore

    os.chdir(repo)  # as `paybill plan specs` runs in CI, so the cache folder is ./.paybill/cache
    folder = Path(os.environ.get("PAYBILL_CACHE_DIR") or ".paybill/cache")
    store = UnitStore(folder / UNITS_FOLDER, read_only=True, content_root=Path("generated")) if cached else None

    def work() -> dict:
        sides = resolve_sides(Path("specs"), "HEAD~1", "HEAD")
        report = plan_sides(sides.base, sides.head, sides.where, repo=sides.repo,
                            policies_prefix=sides.policies_prefix, compile_base=compile_base, store=store,
                            cache_folder=folder if cached else None)
        text = render_markdown(report)
        assert report.stacks is not None, report.terraform_note
        return {"changes": len(report.changes), "stacks": len(report.stacks), "markdown_chars": len(text),
                "errors": report.has_errors, "base": report.terraform_base}

    return _measure(work)


def child_audit(repo: Path) -> dict:
    from paybill.audit import audit_history
    from paybill.audit.render import render_jsonl
    from paybill.changes.sides import locate_specs
    from paybill.gitio import GitRepo

    def work() -> dict:
        git_repo = GitRepo(repo)
        lines = sum(1 for _ in render_jsonl(audit_history(git_repo, locate_specs(git_repo, repo / "specs"))))
        return {"records": lines}

    return _measure(work)


def plan_process(repo: Path) -> dict:
    """The whole ``paybill plan`` process as CI's review job runs it after the cache restore (its
    checkout is the head: no ``--head``): imports, git children and all. Wall from outside; CPU is the
    process's and its git children's (``RUSAGE_CHILDREN``). Bytecode is written and used, as for an
    installed paybill (this environment may set ``PYTHONDONTWRITEBYTECODE``; the caller warms it up)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    with tempfile.TemporaryDirectory(prefix="paybill-bench-md-") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--base", "HEAD~1", "--format",
                               "markdown", "--out", str(Path(out) / "plan.md")], cwd=repo, env=env,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"paybill plan failed:\n{done.stderr[-3000:]}")
    return {"wall": wall, "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
            "compiled": "nothing compiled" not in done.stderr}


CHILDREN = {"compile": child_compile, "plan": child_plan, "audit": child_audit,
            "plan-cached": lambda repo: child_plan(repo, cached=True),
            "plan-compile-base": lambda repo: child_plan(repo, compile_base=True)}


def run_child(kind: str, repo: Path, tenants: int = DEFAULT_TENANTS) -> dict:
    """One measurement in a fresh interpreter. Peak RSS survives exec on Linux, so the parent never
    does heavy work itself: even building the repository happens in a child."""
    out = subprocess.run([sys.executable, __file__, str(tenants), "--child", kind, str(repo)],
                         capture_output=True, text=True,
                         check=False, env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tenants", nargs="?", type=int, default=DEFAULT_TENANTS)
    parser.add_argument("--commits", type=int, default=DEFAULT_COMMITS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compile-base", action="store_true",
                        help="also measure plan --compile-base (both sides compiled, nothing committed reused)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "REPO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "build-plan":  # in a child, so the parent's peak memory stays small
            print(json.dumps({"changed": make_plan_repo(args.tenants, Path(args.child[1]))}))
        else:
            print(json.dumps(CHILDREN[args.child[0]](Path(args.child[1]))))
        return 0
    status = 0
    with tempfile.TemporaryDirectory(prefix="paybill-bench-plan-") as tmp:
        plan_repo, audit_repo = Path(tmp) / "plan", Path(tmp) / "audit"
        started = time.perf_counter()
        changed = run_child("build-plan", plan_repo, args.tenants)["changed"]
        print(f"plan repo: {args.tenants} tenants, one changed ({changed}); built in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        best: dict[str, dict] = {}
        kinds = ("compile", "plan", "plan-cached") + (("plan-compile-base",) if args.compile_base else ())
        plan_process(plan_repo)  # warm-up: bytecode written, as an installed paybill has it
        for _ in range(args.rounds):
            for kind in (*kinds, "plan-process"):
                result = plan_process(plan_repo) if kind == "plan-process" else run_child(kind, plan_repo)
                if kind not in best or result["wall"] < best[kind]["wall"]:
                    best[kind] = result
        compile_ = best["compile"]
        print(f"compile (in memory):   {compile_['wall']:.2f} s wall, {compile_['cpu']:.2f} s cpu, "
              f"{compile_['peak_mb']:.0f} MB peak, {compile_['files']} files")
        for kind in kinds[1:]:
            plan = best[kind]
            print(f"{kind + ':':<22} {plan['wall']:.2f} s wall, {plan['cpu']:.2f} s cpu, "
                  f"{plan['peak_mb']:.0f} MB peak, {plan['changes']} spec change(s), {plan['stacks']} stack(s) "
                  f"changed [{plan['base']}]")
        cached, process = best["plan-cached"], best["plan-process"]
        print(f"plan, both committed trees proven (no compile), in process: {cached['wall']:.2f} s wall, "
              f"{cached['cpu']:.2f} s cpu")
        print(f"plan, the whole `paybill plan` process as CI runs it: {process['wall']:.2f} s wall, "
              f"{process['cpu']:.2f} s cpu with git{'' if not process['compiled'] else ' (COMPILED a side)'} "
              f"(target <= {TARGET_PLAN_ONE_S} s: {'met' if process['wall'] <= TARGET_PLAN_ONE_S else 'NOT met'}; "
              f"load {os.getloadavg()[0]:.1f})")
        plan = best["plan"]
        ratio, cpu_ratio = plan["wall"] / compile_["wall"], plan["cpu"] / compile_["cpu"]
        verdict = "ok" if ratio <= TARGET_PLAN_RATIO else "OVER TARGET"
        print(f"plan / compile = {ratio:.2f} wall, {cpu_ratio:.2f} cpu (target <= {TARGET_PLAN_RATIO}): {verdict}",
              flush=True)
        status |= ratio > TARGET_PLAN_RATIO

        started = time.perf_counter()
        make_audit_repo(args.commits, audit_repo)
        print(f"audit repo: {AUDIT_TENANTS} tenants + {args.commits} commits; built in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        audit = min((run_child("audit", audit_repo) for _ in range(args.rounds)), key=lambda r: r["wall"])
        verdict = "ok" if audit["wall"] <= TARGET_AUDIT_SECONDS else "OVER TARGET"
        print(f"audit: {audit['records']} records in {audit['wall']:.2f} s wall, {audit['cpu']:.2f} s cpu, "
              f"{audit['peak_mb']:.0f} MB peak (target <= {TARGET_AUDIT_SECONDS:.0f} s): {verdict}")
        status |= audit["wall"] > TARGET_AUDIT_SECONDS
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
