"""checkov finds nothing wrong with the Terraform paybill emits, except what the baseline accepts.

``specs/`` is compiled in memory, written to a temporary tree and scanned by checkov from its own
virtual environment (``make install-checkov`` creates ``.venv-checkov`` from the pinned
``tools/checkov-requirements.txt``; checkov's dependency tree conflicts with ours, and new checkov
releases add checks, so the version is pinned exactly and bumped on purpose).

* ``--framework terraform_json``: ``--framework terraform`` silently skips ``*.tf.json`` files.
* ``--skip-download``, ``BC_SKIP_MAPPING=TRUE`` and ``CKV_SKIP_PACKAGE_UPDATE_CHECK=true`` keep
  checkov off the network, so the result depends only on the pinned version and our output.
* Not ``--quiet``: the passed checks are needed to prove that every stack file was parsed and
  scanned (a file checkov cannot read would otherwise look perfectly clean).
* checkov's ``terraform_json`` parser crashes on ``terraform.required_version`` (a string where it
  expects a block: bridgecrewio/checkov#7454, fix #7467 still unmerged in 3.3.30), which drops the
  whole file as a parsing error. The scanned copy therefore omits that one setting, which no check
  looks at. A canary file that keeps it must still fail to parse; when checkov is fixed the canary
  parses and the test says to remove the workaround.

Every failed check must be matched by an entry of ``checkov-baseline.yaml`` (check id, resource
address patterns, optional stack patterns) that says why it cannot or should not apply. An entry
that no longer matches any failure is stale and fails the test too, so the baseline only shrinks
when the emitters improve. Under ``CI=true`` a missing checkov is a failure; locally it is a loud skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import emit_terraform
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
BASELINE = Path(__file__).with_name("checkov-baseline.yaml")
TIMEOUT_SECONDS = 300
"""checkov takes 8-15 s on the 21 example stacks (2 cores, checkov 3.3.30); twenty times that is a hang."""
MIN_REASON = 40
"""A reason shorter than this is not a reason."""

# One worker runs the module (tests/conftest.py): the scan below is module-scoped and takes ~10 s,
# which each worker would pay again if xdist spread the module's tests over both.
pytestmark = pytest.mark.xdist_group("checkov")


@dataclass(frozen=True)
class Finding:
    check: str
    name: str
    stack: str
    resource: str
    line: int

    def __str__(self) -> str:
        return f"{self.check} {self.stack}: {self.resource} (main.tf.json:{self.line}): {self.name}"


@dataclass(frozen=True)
class Accepted:
    check: str
    resources: tuple[str, ...]
    stacks: tuple[str, ...]
    reason: str

    def matches(self, finding: Finding) -> bool:
        return (
            finding.check == self.check
            and any(fnmatchcase(finding.resource, p) for p in self.resources)
            and any(fnmatchcase(finding.stack, p) for p in self.stacks)
        )

    def __str__(self) -> str:
        return f"{self.check} resources={list(self.resources)} stacks={list(self.stacks)}"


def load_baseline() -> list[Accepted]:
    raw = yaml.safe_load(BASELINE.read_text(encoding="utf-8")) or {}
    entries = raw.get("accepted") or []
    return [
        Accepted(
            check=entry["check"],
            resources=tuple(entry["resources"]),
            stacks=tuple(entry.get("stacks", ["*"])),
            reason=" ".join(str(entry["reason"]).split()),
        )
        for entry in entries
    ]


@dataclass(frozen=True)
class Scan:
    failed: list[Finding]
    scanned_stacks: set[str]
    stacks: set[str]
    summary: dict[str, Any]
    seconds: float
    unparsed: set[str]
    covered_stacks: set[str]
    """Stacks with a resource of a provider checkov has resource checks for."""


CANARY = "checkov-7454-canary"
COVERED_PREFIXES = ("aws_", "azurerm_", "google_", "oci_")


def _without_required_version(content: bytes) -> bytes:
    """The stack without ``terraform.required_version`` (see the module docstring for why)."""
    document = json.loads(content)
    document.get("terraform", {}).pop("required_version", None)
    return json.dumps(document, indent=2, sort_keys=True).encode()


def _resource_address(texts: dict[str, list[str]], path: Path, line: int) -> str:
    """``type.name`` (``data.type.name``) of the block starting at ``line`` of a file written by this test.

    checkov's terraform_json runner names findings inconsistently (``resource.main``,
    ``data.available``, ``aws_s3_bucket.data``), so the address is read back from the file, whose
    layout (2-space indent, sorted keys) is ours: section at 2 spaces, type at 4, name at 6.
    """
    lines = texts.setdefault(str(path), path.read_text(encoding="utf-8").splitlines())
    found: dict[int, str] = {}
    for text in reversed(lines[:line]):
        indent = len(text) - len(text.lstrip(" "))
        opens_block = text.rstrip().endswith("{") and text.strip().startswith('"')
        if indent in (2, 4, 6) and opens_block and all(indent < seen for seen in found):
            found[indent] = text.strip().split('"')[1]
        if 2 in found:
            break
    section, type_, name = found.get(2), found.get(4), found.get(6)
    if section not in ("resource", "data") or type_ is None or name is None:
        return f"{section or '?'}.{type_ or '?'}.{name or '?'}@{line}"
    return f"{type_}.{name}" if section == "resource" else f"data.{type_}.{name}"


def _stack_of(file_path: str) -> str:
    """``/tenant/acme-corp/main.tf.json`` (relative to the scanned directory) -> ``tenant/acme-corp``."""
    return str(Path(file_path.lstrip("/")).parent)


def _findings(reports: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [check for report in reports for check in report.get("results", {}).get(key, [])]


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    if not CHECKOV.exists():
        message = f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: run `make install-checkov`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    if not CLOUD_EMITTERS:
        pytest.skip("no Terraform cloud emitter is registered yet; nothing to scan")
    result = validate_repository(ROOT / "specs")
    assert result.ok, "specs/ must validate"
    sink = DiagnosticSink()
    tree = emit_terraform(EmitContext(result.index, sink))
    assert not sink.has_errors, "\n".join(str(d) for d in sink.sorted())
    out = tmp_path_factory.mktemp("checkov")
    for path, content in tree.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_without_required_version(content))
    canary = out / "terraform" / CANARY / "main.tf.json"
    canary.parent.mkdir(parents=True)
    canary.write_text(json.dumps({"terraform": {"required_version": ">= 1.12.0"}}), encoding="utf-8")
    stacks = {str(Path(path).parent.relative_to("terraform")) for path in tree}
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    process = subprocess.run(
        [str(CHECKOV), "-d", str(out / "terraform"), "--framework", "terraform_json", "--skip-download",
         "--output", "json", "--compact"],
        capture_output=True, text=True, env=env, timeout=TIMEOUT_SECONDS, check=False,
    )
    seconds = time.monotonic() - started
    assert process.returncode in (0, 1), f"checkov exited {process.returncode}:\n{process.stderr[-4000:]}"
    parsed = json.loads(process.stdout)
    reports = parsed if isinstance(parsed, list) else [parsed]
    texts: dict[str, list[str]] = {}
    failed = sorted(
        {
            Finding(c["check_id"], c["check_name"], stack,
                    _resource_address(texts, out / "terraform" / stack / "main.tf.json", c["file_line_range"][0]),
                    c["file_line_range"][0])
            for c in _findings(reports, "failed_checks")
            if (stack := _stack_of(c["file_path"]))
        },
        key=lambda f: (f.stack, f.resource, f.check),
    )
    scanned = {_stack_of(c["file_path"]) for key in ("passed_checks", "failed_checks")
               for c in _findings(reports, key)}
    summary = {k: sum(r.get("summary", {}).get(k, 0) for r in reports) for k in ("passed", "failed", "parsing_errors")}
    unparsed = {_stack_of(str(Path(p).relative_to(out / "terraform"))) if Path(p).is_absolute() else _stack_of(p)
                for r in reports for p in r.get("results", {}).get("parsing_errors", [])}
    print(f"\ncheckov {reports[0].get('summary', {}).get('checkov_version')}: {len(stacks)} stacks in "
          f"{seconds:.1f}s, {summary}")
    covered = {str(Path(path).parent.relative_to("terraform")) for path, content in tree.items()
               if any(t.startswith(COVERED_PREFIXES) for t in json.loads(content).get("resource", {}))}
    return Scan(failed, scanned, stacks, summary, seconds, unparsed, covered)


@pytest.mark.slow
def test_checkov_scanned_every_stack(scan: Scan) -> None:
    """Every stack parsed, and checks ran on every stack that has resources of a cloud checkov covers.

    checkov has no checks for most IBM Cloud resource types (only a few graph checks), so an IBM
    tenant stack may legitimately see no check at all; parsing is proven by the absence of a
    parsing error and by the canary, which shows that parsing errors are reported per file.
    """
    unparsed = sorted(scan.unparsed - {CANARY})
    assert not unparsed, f"checkov could not parse these stacks: {unparsed}"
    assert CANARY in scan.unparsed, (
        "checkov now parses terraform.required_version (bridgecrewio/checkov#7454 is fixed): remove "
        "_without_required_version and the canary from this test"
    )
    missing = sorted(scan.covered_stacks - scan.scanned_stacks)
    assert not missing, f"checkov ran no check on these stacks of AWS/Azure/GCP/OCI: {missing}"


@pytest.mark.slow
def test_no_checkov_failures_beyond_the_baseline(scan: Scan) -> None:
    accepted = load_baseline()
    unexpected = [f for f in scan.failed if not any(a.matches(f) for a in accepted)]
    assert not unexpected, (
        f"{len(unexpected)} failed checkov check(s) not in {BASELINE.name}; fix the emitter, or accept the check "
        "there with a written reason:\n  " + "\n  ".join(str(f) for f in unexpected)
    )


@pytest.mark.slow
def test_checkov_baseline_has_no_stale_entries(scan: Scan) -> None:
    stale = [a for a in load_baseline() if not any(a.matches(f) for f in scan.failed)]
    assert not stale, (
        f"{BASELINE.name} accepts checks that no longer fail; remove these entries:\n  "
        + "\n  ".join(str(a) for a in stale)
    )


def test_checkov_baseline_is_well_formed() -> None:
    entries = load_baseline()
    for entry in entries:
        assert entry.check.startswith(("CKV_", "CKV2_")), f"not a checkov check id: {entry.check}"
        assert entry.resources and all(entry.resources), f"{entry.check}: list the resource address patterns"
        assert len(entry.reason) >= MIN_REASON, f"{entry.check}: the reason must explain why the check does not apply"
    keys = [(e.check, e.resources, e.stacks) for e in entries]
    assert len(keys) == len(set(keys)), "duplicate baseline entries"


def test_baseline_matching() -> None:
    """The matcher the two baseline tests rely on: check id, resource pattern and stack pattern all count."""
    entry = Accepted("CKV_AWS_1", ("aws_s3_bucket.*",), ("pool/*",), "x" * MIN_REASON)
    assert entry.matches(Finding("CKV_AWS_1", "n", "pool/p", "aws_s3_bucket.data", 1))
    assert not entry.matches(Finding("CKV_AWS_2", "n", "pool/p", "aws_s3_bucket.data", 1))
    assert not entry.matches(Finding("CKV_AWS_1", "n", "tenant/t", "aws_s3_bucket.data", 1))
    assert not entry.matches(Finding("CKV_AWS_1", "n", "pool/p", "aws_kms_key.data", 1))
    assert _stack_of("/tenant/acme-corp/main.tf.json") == "tenant/acme-corp"
