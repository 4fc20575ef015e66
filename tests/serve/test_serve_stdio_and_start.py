"""`paybill serve --transport stdio` with the official client launching it, and the start-up refusals
(PB13xx diagnostics, exit 1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from clients import call, run, stdio_client
from serve_support import PAYBILL, ROOT, ServeWorld

pytestmark = pytest.mark.postgres


def test_stdio_transport_lists_tools_and_serves_a_run(serve_world: ServeWorld) -> None:
    args = [*PAYBILL, "serve", "--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog),
            "--database-url", serve_world.dsn]

    async def body() -> tuple[list[str], bool, dict[str, object]]:
        async with stdio_client(args) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            ok, read = await call(client, "read_tickets", run_id=started["run_id"], tenant="beta-co",
                                  columns=["id", "status"])
            return names, ok, read

    names, ok, read = run(body)
    assert "read_tickets" in names and "start_run" in names
    assert ok and {r["id"] for r in read["rows"]} == {str(k) for k in serve_world.world.rows[("tickets", "beta-co")]}


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if k != "PAYBILL_SERVE_TOKEN"}
    return subprocess.run([*PAYBILL, "serve", *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**environment, **(env or {})}, check=False, stdin=subprocess.DEVNULL)


def test_http_without_a_token_refuses_to_start(serve_world: ServeWorld) -> None:
    done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, "--transport", "http", "--listen", "127.0.0.1:0")
    assert done.returncode == 1 and "error[PB1304]" in done.stderr and "hint:" in done.stderr
    weak = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, "--transport", "http", "--listen", "127.0.0.1:0", env={"PAYBILL_SERVE_TOKEN": "abc"})
    assert weak.returncode == 1 and "too weak" in weak.stderr


def test_every_start_up_problem_is_reported_in_one_run(serve_world: ServeWorld, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(serve_world.bundle, bundle)
    policies = bundle / "policies.cedar"
    policies.write_text(policies.read_text() + "\npermit(principal, action, resource);\n")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "migrations.json").write_text("{}")
    done = _serve("--bundle", str(bundle), "--catalog", str(catalog), "--database-url", serve_world.dsn,
                  "--transport", "http", "--spec-repo", str(tmp_path))
    assert done.returncode == 1, done.stderr
    codes = [line.split("error[")[1][:6] for line in done.stderr.splitlines() if "error[" in line]
    assert codes == ["PB1301", "PB1302", "PB1304", "PB1307"], done.stderr
    assert "bundle refused (hash)" in done.stderr and "Traceback" not in done.stderr


def test_wrong_database_and_unreachable_server(serve_world: ServeWorld) -> None:
    wrong = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                   serve_world.dsn.replace(serve_world.database, "test"))
    assert wrong.returncode == 1 and "error[PB1303]" in wrong.stderr
    down = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  "host=127.0.0.1 port=1 user=nobody password=hunter2 dbname=x connect_timeout=2")
    assert down.returncode == 1 and "error[PB1303]" in down.stderr and "hunter2" not in down.stderr
    # libpq's reason, once: not the pool's retries (a warning each) ending in a bare "(PoolTimeout)"
    assert "the server cannot be reached" in down.stderr and "Connection refused" in down.stderr, down.stderr
    assert "error connecting in" not in down.stderr and "PoolTimeout" not in down.stderr, down.stderr


def test_public_key_from_the_environment_refuses_an_unsigned_bundle(serve_world: ServeWorld, tmp_path: Path) -> None:
    # PAYBILL_BUNDLE_PUBLIC_KEY makes `guard check`, `replay` and `authzen` require a signature; serve
    # ignored it and served an unsigned bundle to an operator who had set it (fail open).
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "bundle-key.pub.pem"
    key.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, env={"PAYBILL_BUNDLE_PUBLIC_KEY": str(key)})
    assert done.returncode == 1, done.stderr
    assert "error[PB1301]" in done.stderr and "bundle refused (unsigned)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_several_trusted_public_keys_serve_a_bundle_signed_by_either(serve_world: ServeWorld,
                                                                       tmp_path: Path) -> None:
    # a key rotation: the server trusts the old and the new key (--public-key twice, or the variable
    # with both paths); it took one key only, so one of the two bundles in flight was refused
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    paths = {}
    for name in ("old", "new"):
        key = Ed25519PrivateKey.generate()
        paths[name] = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
        paths[name][0].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        paths[name][1].write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    signed = tmp_path / "signed"
    done = subprocess.run([*PAYBILL, "bundle", str(serve_world.specs), "--out", str(signed), "--agent", "ops-agent",
                           "--signing-key", str(paths["new"][0])], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = signed / "bundles" / "ops-agent"
    args = [*PAYBILL, "serve", "--bundle", str(bundle), "--catalog", str(serve_world.catalog), "--database-url",
            serve_world.dsn, "--public-key", str(paths["new"][1]), "--public-key", str(paths["old"][1])]

    async def body() -> list[str]:
        async with stdio_client(args) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)

    assert "start_run" in run(body)
    both = os.pathsep.join(str(paths[name][1]) for name in ("old", "new"))
    only_old = _serve("--bundle", str(bundle), "--catalog", str(serve_world.catalog), "--database-url",
                      serve_world.dsn, env={"PAYBILL_BUNDLE_PUBLIC_KEY": str(paths["old"][1])})
    assert only_old.returncode == 1, only_old.stderr
    assert "error[PB1301]: bundle refused (signature): signature is by key" in only_old.stderr
    assert "which is not a trusted public key" in only_old.stderr
    assert "bundle refused" not in _serve("--bundle", str(bundle), "--catalog", str(serve_world.catalog),
                                          "--database-url", "host=127.0.0.1 port=1 dbname=x connect_timeout=1",
                                          env={"PAYBILL_BUNDLE_PUBLIC_KEY": both}).stderr


def test_a_decision_log_that_is_not_a_regular_file_is_a_start_up_problem(serve_world: ServeWorld,
                                                                         tmp_path: Path) -> None:
    # --log naming a FIFO, a device or a symlink loop was an internal error (LogError, exit 70)
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for log in (tmp_path / "fifo", Path("/dev/null"), tmp_path / "a"):
        done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                      serve_world.dsn, "--log", str(log))
        assert done.returncode == 1, done.stderr
        assert f"{log.as_posix()}:1:1: error[PB1301]: cannot open the decision log" in done.stderr, done.stderr
        assert "internal error" not in done.stderr


def test_expect_agent_refuses_another_agents_bundle(serve_world: ServeWorld) -> None:
    # serve had no --expect-agent (guard check, replay and authzen do): another agent's (signed) bundle
    # copied into this agent's folder was served as that agent
    import json

    agent = json.loads((serve_world.bundle / "manifest.json").read_text())["agent"]
    done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, "--expect-agent", "billing-agent-x")
    assert done.returncode == 1, done.stderr
    assert "error[PB1301]: bundle refused (agent)" in done.stderr and repr(agent) in done.stderr, done.stderr


def test_a_bundle_or_catalog_folder_that_does_not_exist_names_the_ones_that_do(tmp_path: Path) -> None:
    """README's `--bundle generated/bundles/ops-agent` in a repository `paybill init` wrote (whose agents are
    billing-agent and support-assistant) was 'bundle refused (missing): manifest.json is missing', as if a
    compiled bundle had been damaged; a mistyped catalog was an OSError."""
    generated = tmp_path / "generated"
    for folder in ("bundles/billing-agent", "bundles/support-assistant", "sql/pool-aws-use1-shared",
                   "sql/tenant-acme-corp"):
        (generated / folder).mkdir(parents=True)
    done = _serve("--bundle", str(generated / "bundles/ops-agent"), "--catalog", str(generated / "sql/tenant-acme"),
                  "--database-url", "host=127.0.0.1 dbname=none", "--transport", "stdio")
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"{generated}/bundles/ops-agent:1:1: error[PB1301]: no agent bundle at '{generated}/bundles/ops-agent'",
        f"  hint: bundles in {generated}/bundles/: billing-agent, support-assistant",
        f"{generated}/sql/tenant-acme:1:1: error[PB1302]: no database catalog at '{generated}/sql/tenant-acme'",
        f"  hint: databases in {generated}/sql/: pool-aws-use1-shared, tenant-acme-corp; "
        "did you mean 'tenant-acme-corp'?",
    ]
    empty = _serve("--bundle", str(tmp_path / "nowhere/ops-agent"),
                   "--catalog", str(generated / "sql/tenant-acme-corp"),
                   "--database-url", "host=127.0.0.1 dbname=none", "--transport", "stdio")
    assert empty.returncode == 1
    assert "  hint: no bundles in " + f"{tmp_path}/nowhere/: run `paybill compile`" in empty.stderr, empty.stderr
