"""Every diagnostic code PB01xx-PB05xx has a failing fixture with its exact place and wording.

The table is the contract users see: code, file, line, column, message and hint of every
diagnostic a fixture produces, nothing more. A code that appears in ``compiler/paybill`` (or in the
rule registry) without a case here fails ``test_every_code_has_a_case``, so a new rule cannot land
without a fixture. Fixtures are small overlays on ``fixtures/_base`` (a valid repository): the folder
``fixtures/<case id>/`` holds only the file that carries the mistake. Hazards that cannot live in git
(a FIFO, a symlink out of the tree, a 1 MiB file) are built by functions instead.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from paybill.validate import validate_repository
from paybill.validate.rules import ALL_RULES

from .support import BASE, FIXTURES, ROOT, build_repo, run_cli

SOURCE = ROOT / "compiler" / "paybill"
CODE_RE = re.compile(r"\"(PB0[1-5]\d\d)\"")


@dataclass(frozen=True)
class E:
    """One expected diagnostic."""

    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None
    severity: str = "error"


@dataclass(frozen=True)
class Case:
    """A fixture (``fixtures/<id>/`` overlay, or ``build``) and every diagnostic it must produce."""

    id: str
    expected: tuple[E, ...]
    build: Callable[[Path], None] | None = field(default=None, compare=False)

    @property
    def code(self) -> str:
        return self.id.split("-", 1)[0]


def case(case_id: str, *expected: E, build: Callable[[Path], None] | None = None) -> Case:
    return Case(case_id, expected, build)


BLUTH = (BASE / "tenants" / "bluth.yaml").read_text(encoding="utf-8")
MAX_FILE_BYTES = 1 << 20


def _oversized(tmp_path: Path) -> None:
    """A tenant file one byte over the 1 MiB limit (a pasted log in a comment, say)."""
    padding = MAX_FILE_BYTES + 1 - len(BLUTH) - len("# \n")
    build_repo(tmp_path, files={"tenants/bluth.yaml": BLUTH + "# " + "x" * padding + "\n"})


def _too_many_documents(tmp_path: Path) -> None:
    build_repo(tmp_path, files={"tenants/bulk.yaml": "---\n{}\n" * 1001})


def _symlink_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("apiVersion: paybill.dev/v1alpha1\n", encoding="utf-8")
    root = build_repo(tmp_path)
    (root / "tenants" / "secret.yaml").symlink_to("../../outside/secret.yaml")


def _fifo(tmp_path: Path) -> None:
    root = build_repo(tmp_path)
    os.mkfifo(root / "tenants" / "pipe.yaml")


def _empty(tmp_path: Path) -> None:
    (tmp_path / "specs" / "tenants").mkdir(parents=True)
    (tmp_path / "specs" / "README.md").write_text("specs go here\n", encoding="utf-8")


CASES: tuple[Case, ...] = (
    case(
        "PB0101",
        E("specs/tenants/bluth.yaml", 6, 5, "PB0101",
          "invalid YAML: did not find expected ',' or '}' "
          "(while parsing a flow mapping that starts at line 5, column 11)",
          None),
    ),
    case(
        "PB0102",
        E("specs/tenants/bluth.yaml", 18, 3, "PB0102",
          "duplicate key 'plan' (first defined at line 7, column 3)",
          "YAML keeps only the last value silently; remove one of them"),
    ),
    case(
        "PB0103",
        E("specs/tenants/bluth.yaml", 6, 27, "PB0103",
          "file is not valid UTF-8 (byte 0xf1)",
          "save the file as UTF-8"),
    ),
    case(
        "PB0104",
        E("specs/tenants/bluth.yaml", 6, 16, "PB0104",
          "YAML tag '!!python/object/apply:os.system' is not allowed",
          "specs are plain data: remove the tag (only strings, numbers, booleans, null, mappings and lists "
          "are accepted)"),
    ),
    case(
        "PB0105",
        E("specs/tenants/bluth.yaml", 1, 1, "PB0105", "file is 1048577 bytes, over the limit of 1048576",
          "split it into several files; one spec per file is the convention"),
        build=_oversized,
    ),
    case(
        "PB0105-documents",
        E("specs/tenants/bulk.yaml", 1, 1, "PB0105", "file holds 1001 documents, over the limit of 1000",
          "split it into several files; one spec per file is the convention"),
        build=_too_many_documents,
    ),
    case(
        "PB0106",
        E("specs/tenants/bluth.yaml", 6, 41, "PB0106",
          "nesting deeper than 32 levels",
          "flatten the document; no spec field nests this deep"),
    ),
    case(
        "PB0106-block",
        E("specs/tenants/bluth.yaml", 37, 67, "PB0106",
          "nesting deeper than 32 levels",
          "flatten the document; no spec field nests this deep"),
    ),
    case(
        "PB0107",
        E("specs/tenants/bluth.yaml", 6, 32, "PB0107",
          "document expands to more than 100000 nodes (alias expansion bomb?)",
          "use fewer anchors/aliases; specs are plain data"),
    ),
    case(
        "PB0108",
        E("specs/tenants/bluth.yaml", 8, 1, "PB0108",
          "tab character used for indentation",
          "YAML indents with spaces only; replace the tab with spaces"),
    ),
    case(
        "PB0109",
        E("specs/tenants/onboarding-checklist.yaml", 2, 1, "PB0109",
          "a spec document must be a mapping, not a list",
          "start the document with 'apiVersion: paybill.dev/v1alpha1' and 'kind: ...'"),
    ),
    case(
        "PB0110",
        E("specs/tenants/bluth.yaml", 1, 13, "PB0110",
          "unknown apiVersion 'paybill.dev/v1'",
          "use 'paybill.dev/v1alpha1'"),
    ),
    case(
        "PB0110-missing",
        E("specs/tenants/bluth.yaml", 1, 1, "PB0110",
          "missing 'apiVersion'",
          "add 'apiVersion: paybill.dev/v1alpha1'"),
    ),
    case(
        "PB0111",
        E("specs/tenants/bluth.yaml", 2, 7, "PB0111",
          "unknown kind 'Tenants'",
          "did you mean 'Tenant'?"),
    ),
    case(
        "PB0111-missing",
        E("specs/tenants/bluth.yaml", 1, 1, "PB0111",
          "missing 'kind'",
          "add 'kind:' with one of Plan, Cloud, Pool, Tenant, DataModel, Agent, Workflow, BillingPolicy"),
    ),
    case(
        "PB0112",
        E("specs/tenants/secret.yaml", 1, 1, "PB0112",
          "symlink points outside the specs root (to '../../outside/secret.yaml') and is not read",
          "copy the file into the specs root instead of linking to it"),
        build=_symlink_out,
    ),
    case(
        "PB0113",
        E("specs/tenants/bluth.yaml", 6, 16, "PB0113",
          "integer '9999999999999999999999999999999999999999...' is too large to read (5000 characters)",
          "no spec field takes a number this large; quote it if it is meant as text"),
    ),
    case(
        "PB0114",
        E("specs/tenants/pipe.yaml", 1, 1, "PB0114", "cannot read file: not a regular file",
          "spec files must be plain files (not pipes, sockets or devices)"),
        build=_fifo,
    ),
    case(
        "PB0115",
        E("specs", 1, 1, "PB0115", "no spec files (*.yaml, *.yml) found under 'specs'",
          "point paybill at your specs folder"),
        build=_empty,
    ),
    case(
        "PB0201",
        E("specs/tenants/acme.yaml", 18, 3, "PB0201",
          "unknown field 'dataResidancy' in spec",
          "did you mean 'dataResidency'?"),
    ),
    case(
        "PB0202",
        E("specs/tenants/bluth.yaml", 5, 1, "PB0202",
          "missing required field 'billing' in spec",
          "add 'billing:' under spec"),
    ),
    case(
        "PB0203",
        E("specs/plans/starter.yaml", 12, 14, "PB0203",
          "spec.trialDays: expected an integer, got string '14'",
          "remove the quotes around the number"),
    ),
    case(
        "PB0204",
        E("specs/tenants/bluth.yaml", 14, 14, "PB0204",
          "spec.lifecycle: invalid value string 'activ'",
          "did you mean 'active'?"),
    ),
    case(
        "PB0205",
        E("specs/tenants/bluth.yaml", 4, 9, "PB0205",
          "metadata.name: invalid name string 'Bluth_Co'",
          "names are lower case letters, digits and single hyphens, start with a letter, end with a letter or "
          "digit, at most 40 characters"),
    ),
    case(
        "PB0205-pattern",
        E("specs/tenants/bluth.yaml", 17, 17, "PB0205",
          "spec.billing.customerId: string 'cus bluth' does not match the required format",
          "expected pattern ^[A-Za-z0-9_-]{1,64}$"),
    ),
    case(
        "PB0206",
        E("specs/plans/starter.yaml", 9, 13, "PB0206",
          "spec.price.amount: input should be greater than or equal to 0",
          "you wrote -4900; use a value of at least 0"),
    ),
    case(
        "PB0207",
        E("specs/tenants/bluth.yaml", 6, 16, "PB0207",
          "spec.displayName: control character U+0001 is not allowed",
          "remove it (character 6 of the value): free text reaches Terraform tags, Cedar annotations and "
          "terminals, so it must be printable (a tab is allowed)"),
    ),
    case(
        "PB0207-linebreak",
        E("specs/tenants/bluth.yaml", 6, 16, "PB0207",
          "spec.displayName: line breaks are not allowed",
          "a '|' or '>' block scalar keeps a final line break: use '>-', which folds lines and drops it"),
    ),
    case(
        "PB0207-date",
        E("specs/tenants/bluth.yaml", 15, 19, "PB0207",
          "spec.lifecycleSince: '2026-02-30' is not a calendar day (day is out of range for month)",
          "2026-02 has 28 days; write a day that exists (YYYY-MM-DD)"),
    ),
    case(
        "PB0301",
        E("specs/tenants/bluth.yaml", 4, 9, "PB0301",
          "Tenant 'bluth' is already defined at specs/tenants/bluth-copy.yaml:4:9",
          "names are unique per kind; rename one of them"),
    ),
    case(
        "PB0302",
        E("specs/tenants/bluth.yaml", 7, 9, "PB0302",
          "unknown plan 'startr'",
          "did you mean 'starter'?"),
    ),
    case(
        "PB0303",
        E("specs/tenants/acme.yaml", 10, 12, "PB0303",
          "unknown cloud 'aws-production'",
          "did you mean 'aws-prod'?"),
    ),
    case(
        "PB0304",
        E("specs/tenants/bluth.yaml", 11, 11, "PB0304",
          "unknown pool 'aws-use1-shard'",
          "did you mean 'aws-use1-shared'?"),
    ),
    case(
        "PB0304-misplaced",
        E("specs/tenants/bluth.yaml", 11, 11, "PB0304",
          "pool 'aws-use1-shared' is on aws-prod/us-east-1, but the tenant is placed on aws-prod/eu-west-1",
          "choose a pool in the tenant's cloud and region, or move the tenant"),
    ),
    case(
        "PB0305",
        E("specs/agents/support-bot.yaml", 17, 16, "PB0305",
          "unknown table 'invoices'",
          "known: customers, tickets"),
    ),
    case(
        "PB0306",
        E("specs/agents/support-bot.yaml", 15, 20, "PB0306",
          "unknown column 'subjet' in table 'tickets'",
          "did you mean 'subject'?"),
    ),
    case(
        "PB0307",
        E("specs/agents/support-bot.yaml", 24, 23, "PB0307",
          "unknown workflow 'escalate'",
          "known: triage"),
    ),
    case(
        "PB0308",
        E("specs/agents/support-bot.yaml", 11, 21, "PB0308",
          "unknown tenant 'globex'",
          "known: acme, bluth"),
    ),
    case(
        "PB0309",
        E("specs/agents/support-bot.yaml", 12, 7, "PB0309",
          "label selector matches no tenant",
          "tenant labels in use: support-tier=premium", severity="warning"),
    ),
    case(
        "PB0310",
        E("specs/data/crm.yaml", 8, 20, "PB0310",
          "unknown primary key column 'customer_id' in table 'customers'",
          "known: email, id, name"),
    ),
    case(
        "PB0401",
        E("specs/tenants/acme.yaml", 13, 12, "PB0401",
          "isolation 'silo' is not allowed by plan 'starter'",
          "plan 'starter' allows: pooled; upgrade the plan or change the isolation"),
    ),
    case(
        "PB0402",
        E("specs/pools/aws-use1-shared.yaml", 9, 17, "PB0402",
          "pool 'aws-use1-shared' holds 3 tenants, over its capacity of 2",
          "raise maxTenants or add a pool and move tenants to it"),
        E("specs/tenants/dunder-mifflin.yaml", 11, 11, "PB0402",
          "pool 'aws-use1-shared' is full (2 tenants)",
          "place this tenant in another pool"),
    ),
    case(
        "PB0403",
        E("specs/tenants/initech.yaml", 10, 13, "PB0403",
          "region 'us-west-2' is not allowed by cloud 'aws-prod'",
          "cloud 'aws-prod' allows: us-east-1, eu-west-1"),
    ),
    case(
        "PB0404",
        E("specs/tenants/acme.yaml", 11, 13, "PB0404",
          "region 'eu-west-1' is outside the tenant's data residency (us-east-1)",
          "move the tenant to an allowed region or change its residency with the customer's consent"),
    ),
    case(
        "PB0405",
        E("specs/tenants/bluth.yaml", 14, 14, "PB0405",
          "lifecycle 'active' is inconsistent with billing status 'cancelled'",
          "with billing 'cancelled' the lifecycle may be: deleted, offboarding, suspended"),
    ),
    case(
        "PB0407",
        E("specs/tenants/bluth.yaml", 9, 5, "PB0407",
          "layers network, keys, identity, database, storage, compute are pooled but the tenant names no pool",
          "add 'pool:' under placement"),
    ),
    case(
        "PB0407-silo-pool",
        E("specs/tenants/acme.yaml", 12, 11, "PB0407",
          "a fully silo tenant must not name a pool",
          "remove 'pool:' from placement"),
    ),
    case(
        "PB0440",
        E("specs/tenants/acme.yaml", 15, 13, "PB0440",
          "isolation migration.from places every layer where the target does: nothing moves",
          "set 'from' to the isolation the tenant had before, or remove the 'migration' stanza"),
    ),
    case(
        "PB0440-backwards",
        E("specs/tenants/acme.yaml", 16, 13, "PB0440",
          "layers network, keys, identity, database, storage, compute move from silo to pooled: a migration "
          "can keep pooled access beside new dedicated resources, not the other way round",
          "migrate towards more isolation only; to pool a silo layer, copy its data into the pool first, then "
          "change the isolation without the stanza and record the copy with 'pooling: {from: ..., copiedAt: ...}' "
          "(PB0948; runbook: 'paybill plan')"),
    ),
    case(
        "PB0443",
        E("specs/tenants/bluth.yaml", 15, 13, "PB0443",
          "pooling.from has no silo layer that the target isolation pools: the record records nothing",
          "set 'from' to the isolation the tenant had before this commit, or remove the 'pooling' record"),
    ),
    case(
        "PB0443-migration",
        E("specs/tenants/acme.yaml", 18, 14, "PB0443",
          "a tenant with an isolation migration cannot also carry a pooling record",
          "remove the 'pooling' record (it recorded an earlier move), then stage the migration"),
    ),
    case(
        "PB0441",
        E("specs/tenants/acme.yaml", 16, 7, "PB0441",
          "isolation migrations are not executable on oci yet: its emitter cannot keep the pooled compute, "
          "database, identity, keys, network, storage beside the new silo resources",
          "supported on: aws, azure, gcp; on oci, remove the stanza, change the isolation directly and follow "
          "the runbook 'paybill plan' prints (that apply removes the pooled access)"),
    ),
    case(
        "PB0442",
        E("specs/tenants/acme.yaml", 14, 5, "PB0442",
          "on gcp the keys layer cannot move in an isolation migration: the tenant's crypto key would be "
          "replaced while data is still wrapped with it",
          "keep 'keys: pooled' in the target (model: bridge): the tenant's key in the pool's key ring is "
          "already its own key"),
    ),
    case(
        "PB0408",
        E("specs/plans/starter.yaml", 21, 14, "PB0408",
          "default isolation 'bridge' is not in allowed (pooled)",
          None),
    ),
    case(
        "PB0409",
        E("specs/plans/starter.yaml", 7, 9, "PB0409",
          "tier 3 is already used by plan 'enterprise' at specs/plans/enterprise.yaml:7:9",
          "give every plan its own tier rank"),
    ),
    case(
        "PB0450",
        E("specs/tenants/acme.yaml", 8, 9, "PB0450",
          "plan 'enterprise' allows 0 agents, but 1 acts for tenant 'acme': support-bot",
          "keep the tenant on a plan that allows 1 agent (starter), or take it out of the scope of 1 of these agents "
          "(platform agents with 'tenantScope: {all: true}' are not counted)"),
    ),
    case(
        "PB0451",
        E("specs/tenants/bluth.yaml", 7, 9, "PB0451",
          "plan 'starter' has no 'ai-agents' feature, but agent support-bot acts for tenant 'bluth'",
          "keep the tenant on a plan with 'ai-agents' (enterprise), or take the tenant out of the scope of "
          "support-bot"),
    ),
    case(
        "PB0410",
        E("specs/clouds/aws-prod.yaml", 12, 11, "PB0410",
          "state backend 'gcs' does not fit provider 'aws'",
          "use: s3"),
    ),
    case(
        "PB0411",
        E("specs/data/crm.yaml", 19, 18, "PB0411",
          "column name 'tenant_id' is reserved",
          "paybill adds tenant_id to tenant-scoped tables itself; remove this column"),
    ),
    case(
        "PB0412",
        E("specs/clouds/aws-prod.yaml", 10, 17, "PB0412",
          "address space 8.0.0.0/8 is not a private range",
          "use 10.0.0.0/8, 172.16.0.0/12 or 100.64.0.0/10"),
    ),
    case(
        "PB0430",
        E("specs/tenants/bluth.yaml", 16, 5, "PB0430",
          "destroy record on a tenant whose lifecycle is 'offboarding'",
          "spec.decommission records the destroy of a deleted tenant's stack; remove it, or set lifecycle: deleted"),
    ),
    case(
        "PB0430-before-retention",
        E("specs/tenants/bluth.yaml", 17, 18, "PB0430",
          "destroyedAt 2026-11-05 is before retainUntil 2026-11-09 (lifecycleSince 2026-11-02 + 7 days of "
          "backup retention)",
          "the apply workflow destroys the stack on or after retainUntil; record the day it did"),
    ),
    case(
        "PB0431",
        E("specs/tenants/bluth.yaml", 14, 14, "PB0431",
          "deleted tenant without spec.lifecycleSince: its stack will not be destroyed",
          "add spec.lifecycleSince: YYYY-MM-DD (the day it was deleted); the stack is destroyed once the plan's "
          "backupRetentionDays have passed from that day", severity="warning"),
    ),
    case(
        "PB0501",
        E("specs/workflows/triage.yaml", 7, 20, "PB0501",
          "unknown step 'finished'",
          "known: close-ticket, done, read-ticket"),
    ),
    case(
        "PB0502",
        E("specs/workflows/triage.yaml", 20, 11, "PB0502",
          "step 'escalate' is not reachable from start step 'read-ticket'",
          "add it to some step's 'next', or remove it"),
    ),
    case(
        "PB0503",
        E("specs/workflows/triage.yaml", 13, 11, "PB0503",
          "no path from step 'close-ticket' reaches a terminal step",
          "terminal steps: done"),
    ),
    case(
        "PB0503-terminal-next",
        E("specs/workflows/triage.yaml", 20, 13, "PB0503",
          "terminal step 'done' has next steps",
          "a terminal step ends the run; remove its 'next'"),
    ),
    case(
        "PB0504",
        E("specs/workflows/triage.yaml", 9, 11, "PB0504",
          "step 'read-ticket' is on a loop (read-ticket -> close-ticket -> read-ticket) without maxVisits",
          "add 'maxVisits: N' to bound how often the loop may run"),
        E("specs/workflows/triage.yaml", 13, 11, "PB0504",
          "step 'close-ticket' is on a loop (close-ticket -> read-ticket -> close-ticket) without maxVisits",
          "add 'maxVisits: N' to bound how often the loop may run"),
    ),
    case(
        "PB0505",
        E("specs/workflows/triage.yaml", 20, 17, "PB0505",
          "step 'done' (none) takes no resource",
          "remove 'resource:'"),
    ),
    case(
        "PB0506",
        E("specs/workflows/triage.yaml", 14, 15, "PB0506",
          "step 'close-ticket' needs delete on table 'tickets', which agent 'support-bot' is not granted",
          "grant it in Agent/support-bot spec.permissions, or change the step"),
    ),
    case(
        "PB0520",
        E("specs/workflows/triage.yaml", 14, 33, "PB0520",
          "step 'read-ticket' lists lifecycle 'deleted', which no workflow may act in",
          "agents never act on deleted tenants; remove 'deleted' (an export before deletion is a step with "
          "'lifecycles: [offboarding]')"),
    ),
)


CASES_BY_ID = {c.id: c for c in CASES}


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError("validation hung (a FIFO read, an endless parse?)")


def _actual(root_parent: Path) -> list[E]:
    """Validate ``root_parent/specs`` from its parent, as a user would run ``paybill validate specs``.

    An alarm turns a hang (the FIFO case, were the reader to regress) into a failure, not a stuck suite.
    """
    cwd = Path.cwd()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    os.chdir(root_parent)
    signal.alarm(30)
    try:
        result = validate_repository(Path("specs"))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    return [E(d.path, d.position.line, d.position.col, d.code, d.message, d.hint, d.severity.value)
            for d in result.diagnostics]


@pytest.mark.parametrize("case_id", sorted(CASES_BY_ID))
def test_fixture_reports_exactly_its_diagnostics(case_id: str, tmp_path: Path) -> None:
    case = CASES_BY_ID[case_id]
    if case.build is not None:
        case.build(tmp_path)
    else:
        build_repo(tmp_path, FIXTURES / case.id)
    actual = _actual(tmp_path)
    assert actual == list(case.expected)
    assert {d.code for d in actual} == {case.code}, "a fixture shows its own code and nothing else"


def test_base_repository_is_clean(tmp_path: Path) -> None:
    build_repo(tmp_path)
    assert _actual(tmp_path) == []


def codes_in_source(pattern: re.Pattern[str] = CODE_RE) -> set[str]:
    """Every diagnostic code written as a string literal anywhere in the compiler, plus rule codes."""
    found = {rule.code for rule in ALL_RULES if pattern.fullmatch(f'"{rule.code}"')}
    for path in sorted(SOURCE.rglob("*.py")):
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_has_a_case() -> None:
    codes = codes_in_source()
    assert codes, "no diagnostic codes found: has the source moved?"
    covered = {c.code for c in CASES}
    assert sorted(codes - covered) == [], "codes without a failing fixture"
    assert sorted(covered - codes) == [], "cases for codes that no longer exist"


def test_every_fixture_folder_belongs_to_a_case() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "_base"}
    committed = {c.id for c in CASES if c.build is None}
    assert folders == committed


def test_every_range_error_says_what_was_written_and_what_fits() -> None:
    """PB0206 had no hint: 'list should have at least 1 item' left the fix to the schema."""
    from paybill.validate.schema_errors import _range_hint

    assert _range_hint("too_short", {"min_length": 1}, []) == "it has 0 items; use at least 1"
    assert _range_hint("string_too_long", {"max_length": 40}, "x" * 45) == "it has 45 characters; use at most 40"
    assert _range_hint("less_than_equal", {"le": 100}, 101) == "you wrote 101; use a value of at most 100"
    assert _range_hint("finite_number", {}, float("inf")).startswith("use a finite number")


def test_every_other_invalid_value_has_a_hint(tmp_path: Path) -> None:
    """PB0207 (a value refused by a check that is not about type, format or range) was rendered with no
    hint line; the validator that refused it now says how to fix it, and any other refusal points at the
    kind's schema."""
    from paybill.validate.schema_errors import _other_hint

    build_repo(tmp_path, FIXTURES / "PB0207")
    done = run_cli("validate", "specs", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == [
        "specs/tenants/bluth.yaml:6:16: error[PB0207]: spec.displayName: control character U+0001 is not allowed",
        "  hint: remove it (character 6 of the value): free text reaches Terraform tags, Cedar annotations and "
        "terminals, so it must be printable (a tab is allowed)"]
    hint = _other_hint("BillingPolicy", {})
    assert hint == "schemas/billingpolicy.schema.json describes the values this field accepts"
