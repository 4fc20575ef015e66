"""Every resource and data source paybill emits conforms to the real provider schema.

``specs/`` is compiled in memory and every stack is checked against committed schema fixtures
(``tests/fixtures/provider_schemas/``):

* aws, azurerm, google, oci, kubernetes: extracted by ``tools/extract_provider_schemas.py`` from the
  prebuilt CDK for Terraform packages, which embed the provider's full schema (see that script's
  docstring). Every type name is stored; argument details only for the types listed in
  ``selected.json``. When an emitter starts using a new type, the failure names the command that adds it.
* Newer majors: cdktf was deprecated on 2025-12-10, so its packages stop at azurerm 4.55, google
  6.50, oci 7.19 and kubernetes 2.38, while the emitters pin the current majors (azurerm 5, google 8,
  oci 8, kubernetes 3). ``upgrades.json`` (by hand, from each provider's upgrade guide or changelog,
  sources listed there) says what those majors removed, renamed or made required; it is applied on
  top of the extracted schema. Arguments added since the extracted release are unknown to it unless
  listed there (a false alarm, never a miss).
* ibm: there is no prebuilt schema package. ``ibm.json`` is maintained by hand from the
  IBM-Cloud/terraform-provider-ibm source at v2.5.0: every type name from the provider's
  registration maps, and for each type paybill emits its arguments and Required flags from the
  resource's Go schema (file cited per type), compared with its registry documentation page (also
  cited; where they disagree the Go schema wins, since Terraform enforces it). Limits: only those
  types are checked argument by argument; conditional rules (ExactlyOneOf, RequiredWith) are not; a
  new IBM type or provider major needs a manual update.
* ``terraform_remote_state`` is Terraform's built-in provider (``terraform.json``, by hand).

For each stack: every provider a resource uses is in ``required_providers`` with a version
constraint on the fixture's major version (or a newer one described in ``upgrades.json``); provider
blocks use existing arguments; every resource and data source type exists; every argument and
nested block (recursively, including ``dynamic`` blocks) exists; every required argument is set (any
value, including an expression string, counts; ``null`` does not). Meta-arguments are allowed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import emit_terraform
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "provider_schemas"
EXTRACTOR = ".venv/bin/python tools/extract_provider_schemas.py"
CLOUDS = ("aws", "azure", "gcp", "oci", "ibm")
"""Cloud spec providers (models/cloud.py); each must have a schema for its Terraform provider."""
CLOUD_TERRAFORM_PROVIDER = {"aws": "aws", "azure": "azurerm", "gcp": "google", "oci": "oci", "ibm": "ibm"}

RESOURCE_META = frozenset({"//", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioner",
                           "connection"})
DATA_META = frozenset({"//", "count", "depends_on", "for_each", "lifecycle", "provider"})
PROVIDER_META = frozenset({"//", "alias", "version"})
NESTED_META = frozenset({"//"})
DYNAMIC_KEYS = frozenset({"for_each", "iterator", "labels", "content"})


@dataclass
class ProviderSchema:
    """One provider's fixture, with its newer majors' removals applied (``upgrades.json``)."""

    file: str
    source: str
    version: str
    resource_types: frozenset[str]
    data_source_types: frozenset[str]
    resources: dict[str, Any]
    data_sources: dict[str, Any]
    provider_config: dict[str, Any] | None
    stale_types: dict[str, str] = field(default_factory=dict)
    handmade: bool = False
    newer_majors: frozenset[int] = frozenset()
    removed_types: dict[str, str] = field(default_factory=dict)
    """``type`` or ``data.type`` -> why it is refused (removed in a newer major)."""

    @property
    def majors(self) -> set[int]:
        """Provider majors this schema checks: its own, and newer ones described in ``upgrades.json``."""
        return {int(self.version.split(".")[0]), *self.newer_majors}

    @classmethod
    def load(cls, path: Path, upgrades: dict[str, Any]) -> ProviderSchema:
        raw = json.loads(path.read_text(encoding="utf-8"))
        schema = cls(
            file=str(path.relative_to(ROOT)),
            source=raw["provider"]["source"],
            version=raw["provider"]["version"],
            resource_types=frozenset(raw["resource_types"]),
            data_source_types=frozenset(raw["data_source_types"]),
            resources=raw["resources"],
            data_sources=raw["data_sources"],
            provider_config=raw.get("provider_config"),
            stale_types=raw.get("stale_types", {}),
            handmade=raw.get("handmade", False),
        )
        if schema.source in upgrades:
            schema.apply_upgrade(upgrades[schema.source])
        return schema

    def apply_upgrade(self, upgrade: dict[str, Any]) -> None:
        """Refuse what newer majors removed, require what they made required, know what they added."""
        majors = sorted(upgrade["majors"])
        self.newer_majors = frozenset(majors)
        note = f"removed in {self.source} {' or '.join(f'{m}.0' for m in majors)} (see {', '.join(upgrade['sources'])})"
        for name in upgrade["removed_resource_types"]:
            self.removed_types[name] = note
        for name in upgrade["removed_data_source_types"]:
            self.removed_types[f"data.{name}"] = note
        for path in upgrade["removed_arguments"]:
            if (found := self._locate(path)) is not None:
                found[0][found[1]] = {"required": False, "removed": note}
        for path in upgrade["now_required"]:
            if (found := self._locate(path)) is not None:
                found[0][found[1]]["required"] = True
        for path in upgrade["now_optional"]:
            if (found := self._locate(path)) is not None:
                found[0][found[1]]["required"] = False
        for path, spec in upgrade["added"].items():
            if (found := self._locate(path, must_exist=False)) is not None:
                found[0][found[1]] = spec

    def _locate(self, path: str, *, must_exist: bool = True) -> tuple[dict[str, Any], str] | None:
        """(argument map, name) for ``type.arg.nested`` when the type's arguments are stored, else None."""
        is_data = path.startswith("data.")
        type_name, *names = path.removeprefix("data.").split(".")
        if type_name == "provider":
            details = self.provider_config
        else:
            details = (self.data_sources if is_data else self.resources).get(type_name)
        if details is None:
            return None  # type not selected: its arguments are not stored, nothing to amend
        args = details["args"]
        for name in names[:-1]:
            assert name in args and "block" in args[name], f"upgrades.json: {path}: no block '{name}' in {self.file}"
            args = args[name]["block"]
        assert not must_exist or names[-1] in args, f"upgrades.json: {path}: no argument '{names[-1]}' in {self.file}"
        return args, names[-1]

    def refresh_hint(self, type_name: str) -> str:
        if self.handmade:
            return f"add its arguments by hand to {self.file} from the provider's documentation (see its '//')"
        return f"run: {EXTRACTOR} --add {type_name}"


NOT_SCHEMAS = frozenset({"selected.json", "upgrades.json"})


@cache
def schemas() -> dict[str, ProviderSchema]:
    """Provider source address (``hashicorp/aws``) -> schema, for every fixture file."""
    upgrades = json.loads((FIXTURES / "upgrades.json").read_text(encoding="utf-8"))
    loaded = [ProviderSchema.load(p, upgrades) for p in sorted(FIXTURES.glob("*.json")) if p.name not in NOT_SCHEMAS]
    return {schema.source: schema for schema in loaded}


@cache
def compiled() -> dict[str, dict[str, Any]]:
    """Stack path -> parsed ``main.tf.json`` for ``specs/``, compiled in memory."""
    result = validate_repository(ROOT / "specs")
    assert result.ok, "specs/ must validate:\n" + "\n".join(str(d) for d in result.diagnostics)
    sink = DiagnosticSink()
    tree = emit_terraform(EmitContext(result.index, sink))
    assert not sink.has_errors, "emit diagnostics:\n" + "\n".join(str(d) for d in sink.sorted())
    return {path: json.loads(content) for path, content in sorted(tree.items())}


def _suggest(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _is_set(value: Any) -> bool:
    return value is not None


def check_body(body: Any, args: dict[str, Any], where: str, meta: frozenset[str]) -> list[str]:
    """Problems with one resource body or nested block against its argument schema, recursively."""
    if not isinstance(body, dict):
        return [f"{where}: expected an object, got {type(body).__name__}"]
    problems: list[str] = []
    dynamic: dict[str, Any] = {}
    for key in sorted(body):
        value = body[key]
        if key in meta:
            continue
        if key == "dynamic" and "dynamic" not in args:
            dynamic = value if isinstance(value, dict) else {}
            problems.extend(_check_dynamic(value, args, where))
            continue
        if key not in args:
            problems.append(f"{where}: unknown argument '{key}'{_suggest(key, args)}")
            continue
        if "removed" in args[key]:
            problems.append(f"{where}: argument '{key}' was {args[key]['removed']}")
            continue
        block = args[key].get("block")
        if block is None or value is None or isinstance(value, str):
            continue  # a plain argument, or an expression for a nested attribute object
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, str):
                continue
            label = f"{where}.{key}" + (f"[{i}]" if isinstance(value, list) else "")
            problems.extend(check_body(item, block, label, NESTED_META))
    for name in sorted(args):
        if args[name]["required"] and not _is_set(body.get(name)) and name not in dynamic:
            problems.append(f"{where}: required argument '{name}' is not set")
    return problems


def _check_dynamic(value: Any, args: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}.dynamic: expected an object of dynamic blocks"]
    problems: list[str] = []
    for name in sorted(value):
        spec = value[name]
        label = f"{where}.dynamic.{name}"
        if name not in args or "block" not in args[name]:
            problems.append(f"{label}: '{name}' is not a nested block of this type{_suggest(name, args)}")
            continue
        for one in spec if isinstance(spec, list) else [spec]:
            if not isinstance(one, dict):
                problems.append(f"{label}: expected an object")
                continue
            problems.extend(f"{label}: unknown key '{k}' in a dynamic block" for k in sorted(set(one) - DYNAMIC_KEYS))
            if "content" not in one:
                problems.append(f"{label}: missing 'content'")
            elif not isinstance(one["content"], str):
                problems.extend(check_body(one["content"], args[name]["block"], f"{label}.content", NESTED_META))
    return problems


def _provider_name(type_name: str, body: dict[str, Any]) -> str:
    """The provider local name: the ``provider`` meta-argument's, else the type's prefix."""
    explicit = body.get("provider") if isinstance(body, dict) else None
    if isinstance(explicit, str) and explicit:
        return explicit.removeprefix("${").removesuffix("}").split(".")[0]
    return type_name.split("_", 1)[0]


def _major(constraint: str) -> int | None:
    match = re.search(r"\d+", constraint)
    return int(match.group()) if match else None


def check_stack(stack: str, document: dict[str, Any], known: dict[str, ProviderSchema]) -> list[str]:
    """Every problem in one stack, each naming the stack, the block and the argument."""
    problems: list[str] = []
    required = document.get("terraform", {}).get("required_providers", {})
    sources: dict[str, ProviderSchema | None] = {"terraform": known.get("terraform.io/builtin/terraform")}
    for local in sorted(required):
        entry = required[local]
        source = entry.get("source", f"hashicorp/{local}") if isinstance(entry, dict) else f"hashicorp/{local}"
        schema = known.get(source)
        sources[local] = schema
        if schema is None:
            problems.append(f"{stack}: required_providers.{local}: no schema fixture for provider '{source}' in "
                            f"{FIXTURES.relative_to(ROOT)} (known: {', '.join(sorted(known))})")
            continue
        version = entry.get("version", "") if isinstance(entry, dict) else ""
        if _major(version) not in schema.majors:
            problems.append(f"{stack}: required_providers.{local}: version '{version}' does not pin major "
                            f"{' or '.join(map(str, sorted(schema.majors)))} (schema fixture is {schema.source} "
                            f"{schema.version})")

    for local in sorted(document.get("provider", {})):
        schema = sources.get(local)
        if schema is None:
            problems.append(f"{stack}: provider block '{local}' has no entry in required_providers")
            continue
        configs = document["provider"][local]
        for i, config in enumerate(configs if isinstance(configs, list) else [configs]):
            if schema.provider_config is not None:
                problems.extend(check_body(config, schema.provider_config["args"], f"{stack}: provider.{local}[{i}]",
                                           PROVIDER_META))

    for section, meta, label in (("resource", RESOURCE_META, "resource"), ("data", DATA_META, "data")):
        blocks = document.get(section, {})
        for type_name in sorted(blocks):
            for name in sorted(blocks[type_name]):
                body = blocks[type_name][name]
                where = f"{stack}: {label} {type_name}.{name}" if label == "resource" else \
                    f"{stack}: data.{type_name}.{name}"
                problems.extend(_check_block(type_name, body, where, meta, section == "data", sources))
    return problems


def _check_block(type_name: str, body: dict[str, Any], where: str, meta: frozenset[str], is_data: bool,
                 sources: dict[str, ProviderSchema | None]) -> list[str]:
    local = _provider_name(type_name, body)
    if local not in sources:
        return [f"{where}: provider '{local}' is not in required_providers (Terraform would guess "
                f"hashicorp/{local})"]
    schema = sources[local]
    if schema is None:
        return []  # reported once at required_providers
    kind = "data source" if is_data else "resource"
    names = schema.data_source_types if is_data else schema.resource_types
    details = schema.data_sources if is_data else schema.resources
    key = f"data.{type_name}" if is_data else type_name
    if type_name not in names:
        return [f"{where}: {schema.source} {schema.version} has no {kind} type '{type_name}'"
                f"{_suggest(type_name, names)}"]
    if key in schema.removed_types:
        return [f"{where}: {kind} type '{type_name}' was {schema.removed_types[key]}"]
    if key in schema.stale_types:
        return [f"{where}: the schema package documents '{type_name}' only for {schema.source} "
                f"{schema.stale_types[key]}; check that it still exists in {schema.version}"]
    if type_name not in details:
        return [f"{where}: no argument details for {kind} type '{key}' in {schema.file} "
                f"(the extractor stores them only for selected types); {schema.refresh_hint(key)}"]
    return check_body(body, details[type_name]["args"], where, meta)


def _stacks_of(cloud: str) -> dict[str, dict[str, Any]]:
    provider = CLOUD_TERRAFORM_PROVIDER[cloud]
    return {path: doc for path, doc in compiled().items()
            if provider in doc.get("terraform", {}).get("required_providers", {})}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_emitted_stacks_conform_to_provider_schema(cloud: str) -> None:
    if cloud not in CLOUD_EMITTERS:
        message = f"no Terraform emitter is registered for cloud '{cloud}' yet; nothing to check"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    stacks = _stacks_of(cloud)
    assert stacks, f"specs/ has pools and tenants on {cloud}, but no stack requires its provider"
    problems = [p for path, doc in stacks.items() for p in check_stack(path, doc, schemas())]
    missing_details = re.compile(r"no argument details for \S+ type '([^']+)' in \S+/(?!ibm|terraform)")
    unselected = sorted({m[1] for p in problems if (m := missing_details.search(p))})
    footer = f"\nnew types for the extracted fixtures, in one command:\n  {EXTRACTOR} " + " ".join(
        f"--add {t}" for t in unselected) if unselected else ""
    assert not problems, (
        f"{len(problems)} schema conformance problem(s) in {len(stacks)} {cloud} stack(s):\n  "
        + "\n  ".join(problems) + footer
    )


def test_every_cloud_has_a_schema_fixture() -> None:
    by_provider = {s.source.split("/")[1]: s for s in schemas().values()}
    missing = [c for c in CLOUDS if CLOUD_TERRAFORM_PROVIDER[c] not in by_provider]
    assert not missing, f"no schema fixture for {missing} in {FIXTURES.relative_to(ROOT)}"
    assert "terraform.io/builtin/terraform" in schemas()


def test_fixtures_match_the_extractor_pins() -> None:
    """A changed pin in the script without a re-run would test against a stale schema."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("extract_provider_schemas", ROOT / "tools" /
                                                  "extract_provider_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    selected = json.loads((FIXTURES / "selected.json").read_text(encoding="utf-8"))["selected"]
    for local, package in module.PACKAGES.items():
        raw = json.loads((FIXTURES / f"{local}.json").read_text(encoding="utf-8"))
        assert raw["provider"]["package"] == package.requirement, f"re-run: {EXTRACTOR} --provider {local}"
        stored = {*raw["resources"], *(f"data.{n}" for n in raw["data_sources"])}
        assert stored == set(selected.get(local, [])), f"selected.json and {local}.json differ; re-run: {EXTRACTOR}"


@pytest.mark.parametrize(
    ("source", "path", "required"),
    [
        # Known facts from the providers' documentation, to prove the extraction maps names and flags.
        ("hashicorp/aws", ("aws_db_instance", "kms_key_id"), False),
        ("hashicorp/aws", ("aws_db_instance", "instance_class"), True),
        ("hashicorp/aws", ("aws_s3_bucket_server_side_encryption_configuration", "rule",
                           "apply_server_side_encryption_by_default", "sse_algorithm"), True),
        ("hashicorp/azurerm", ("azurerm_storage_account", "min_tls_version"), False),
        ("hashicorp/azurerm", ("azurerm_storage_account", "account_replication_type"), True),
        ("hashicorp/google", ("google_sql_database_instance", "settings", "tier"), True),
        ("hashicorp/google", ("google_sql_database_instance", "deletion_protection"), False),
        ("oracle/oci", ("oci_objectstorage_bucket", "compartment_id"), True),
        ("oracle/oci", ("oci_objectstorage_bucket", "kms_key_id"), False),
    ],
)
def test_extracted_schema_has_known_arguments(source: str, path: tuple[str, ...], required: bool) -> None:
    schema = schemas()[source]
    type_name, *names = path
    assert type_name in schema.resources, f"{type_name} is no longer selected; use another emitted type here"
    args = schema.resources[type_name]["args"]
    for name in names[:-1]:
        args = args[name]["block"]
    assert args[names[-1]]["required"] is required


def test_checker_reports_every_kind_of_mistake() -> None:
    """The checker itself can fail: each mistake yields a message naming stack, resource and argument."""
    document = {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 5.0"}}},
        "provider": {"aws": [{"region": "us-east-1", "regoin": "x"}]},
        "resource": {
            "aws_db_instanse": {"a": {}},
            "aws_db_instance": {"db": {"kms_key": "k", "count": 1, "depends_on": []}},
            "aws_s3_bucket_server_side_encryption_configuration": {
                "sse": {"bucket": "b",
                        "rule": [{"apply_server_side_encryption_by_default": {"kms_master_key_id": "k"}}]},
                "dyn": {"bucket": "b", "dynamic": {"rule": {"for_each": "${x}", "content": {"bogus": 1}}}},
            },
            "google_storage_bucket": {"g": {"name": "n", "location": "US"}},
        },
        "data": {"terraform_remote_state": {"pool": {"config": {}}}},
    }
    problems = "\n".join(check_stack("tenant/t", document, schemas()))
    expected = [
        "required_providers.aws: version '~> 5.0' does not pin major 6",
        "tenant/t: provider.aws[0]: unknown argument 'regoin' (did you mean 'region'",
        "tenant/t: resource aws_db_instanse.a: hashicorp/aws 6.25.0 has no resource type 'aws_db_instanse' "
        "(did you mean 'aws_db_instance'",
        "tenant/t: resource aws_db_instance.db: unknown argument 'kms_key' (did you mean 'kms_key_id'",
        "tenant/t: resource aws_db_instance.db: required argument 'instance_class' is not set",
        "tenant/t: resource aws_s3_bucket_server_side_encryption_configuration.sse.rule[0]"
        ".apply_server_side_encryption_by_default: required argument 'sse_algorithm' is not set",
        "tenant/t: resource aws_s3_bucket_server_side_encryption_configuration.dyn.dynamic.rule.content: "
        "unknown argument 'bogus'",
        "tenant/t: resource google_storage_bucket.g: provider 'google' is not in required_providers",
        "tenant/t: data.terraform_remote_state.pool: required argument 'backend' is not set",
    ]
    for message in expected:
        assert message in problems, f"missing {message!r} in:\n{problems}"
    assert "count" not in problems and "depends_on" not in problems
    assert "dyn: required argument 'rule'" not in problems  # provided through a dynamic block


def test_newer_major_removals_are_enforced() -> None:
    """``upgrades.json`` turns an extracted older schema into the pinned major's: removed, added, required."""
    document = {
        "terraform": {"required_providers": {
            "google": {"source": "hashicorp/google", "version": "~> 8.0"},
            "azurerm": {"source": "hashicorp/azurerm", "version": "~> 5.0"},
        }},
        "resource": {
            "google_compute_subnetwork": {"s": {"name": "n", "network": "x", "enable_flow_logs": True}},
            "azurerm_private_dns_zone_virtual_network_link": {"l": {
                "name": "n", "virtual_network_id": "v", "private_dns_zone_name": "z", "resource_group_name": "r"}},
            "azurerm_federated_identity_credential": {"f": {
                "name": "n", "audience": ["a"], "issuer": "i", "subject": "s", "user_assigned_identity_id": "u"}},
        },
    }
    problems = "\n".join(check_stack("tenant/t", document, schemas()))
    assert "subnetwork.s: argument 'enable_flow_logs' was removed in hashicorp/google 7.0 or 8.0" in problems
    assert "l: argument 'private_dns_zone_name' was removed in hashicorp/azurerm 5.0" in problems
    assert "l: required argument 'private_dns_zone_id' is not set" in problems
    assert "azurerm_federated_identity_credential.f" not in problems, problems
    assert "required_providers" not in problems, problems
