"""Where the workflows ``paybill init`` writes install paybill from: a pip requirement.

CI in a user's spec repository must install the same paybill that scaffolded it, and paybill is not
necessarily published on an index: it may come from a git URL at a tag. The workflows read the
repository variable ``PAYBILL_PIP_REQUIREMENT`` and fall back to a default that ``init`` writes
into them, found from how the running paybill was installed (PEP 610 ``direct_url.json``):

* no ``direct_url.json``: installed from an index -> ``paybill==<version>``;
* a VCS URL -> ``paybill @ git+<url>@<tag or commit>`` (the tag when it is the version's ``v`` tag,
  else the exact commit);
* an archive at an ``https`` URL -> ``paybill @ <url>``;
* a local folder or file (an editable checkout, a wheel on disk) -> no default: CI cannot reach it,
  so ``init`` says to set the variable (or ``--pip-requirement``), and the workflow fails with that
  instruction instead of installing something else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

DISTRIBUTION = "paybill"
VARIABLE = "PAYBILL_PIP_REQUIREMENT"
DEFAULT_MARKER = f"vars.{VARIABLE} || ''"
"""The expression in the workflow templates whose empty default ``init`` fills in."""


@dataclass(frozen=True, slots=True)
class InstallSource:
    """A pip requirement CI can install (None when there is none) and how it was found."""

    requirement: str | None
    origin: str


def _vcs(url: str, info: dict, version: str) -> InstallSource:
    vcs = str(info.get("vcs", "git"))
    revision = info.get("requested_revision")
    commit = info.get("commit_id")
    pin = revision if revision in (f"v{version}", version) else commit or revision
    base = url if url.startswith(f"{vcs}+") else f"{vcs}+{url}"
    suffix = f"@{pin}" if pin else ""
    return InstallSource(f"{DISTRIBUTION} @ {base}{suffix}", f"installed from {vcs} ({url})")


def source_of(distribution: metadata.Distribution) -> InstallSource:
    """The requirement that reinstalls ``distribution`` from where it came from."""
    version = distribution.version
    raw = distribution.read_text("direct_url.json")
    if raw is None:
        return InstallSource(f"{DISTRIBUTION}=={version}", "installed from a package index")
    try:
        direct = json.loads(raw)
        url = str(direct["url"])
    except (ValueError, KeyError, TypeError):
        return InstallSource(None, "its direct_url.json cannot be read")
    if isinstance(direct.get("vcs_info"), dict):
        return _vcs(url, direct["vcs_info"], version)
    if url.startswith("file:"):
        editable = isinstance(direct.get("dir_info"), dict) and direct["dir_info"].get("editable")
        return InstallSource(None, f"installed from a local {'checkout (editable)' if editable else 'path'} ({url}), "
                                   "which CI cannot reach")
    return InstallSource(f"{DISTRIBUTION} @ {url}", f"installed from {url}")


def running_source() -> InstallSource:
    """Where the paybill running now was installed from."""
    try:
        return source_of(metadata.distribution(DISTRIBUTION))
    except metadata.PackageNotFoundError:
        return InstallSource(None, "paybill runs without installed package metadata")


_UNSAFE = re.compile(r"[\n\r]|\$\{\{|\}\}")
EXAMPLES = f"'{DISTRIBUTION}==0.1.0' or '{DISTRIBUTION} @ git+https://github.com/OWNER/paybill@v0.1.0'"
"""The two forms the docs show; every refusal names them."""


def check_requirement(requirement: str) -> str | None:
    """Why ``requirement`` cannot be written into a workflow (None when it can).

    The workflows run ``pip install "$PAYBILL_PIP_REQUIREMENT"``: anything that is not one PEP 508
    requirement for paybill (a shell command, a pip option, a bare URL, another project) would only
    fail in CI, on the first push, far from the typo. ``packaging`` parses it as pip does.
    """
    if not requirement.strip():
        return f"it is empty; give a pip requirement for paybill, e.g. {EXAMPLES}"
    if _UNSAFE.search(requirement):
        return "it contains a line break or a GitHub expression (${{ }})"
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        if re.match(r"^[a-z][a-z0-9+.-]*://|^git\+", requirement.strip(), re.IGNORECASE):
            return (f"'{requirement}' is a URL, not a pip requirement: name the project, "
                    f"'{DISTRIBUTION} @ {requirement.strip()}'")
        return f"'{requirement}' is not a pip requirement ({reason}); write e.g. {EXAMPLES}"
    if canonicalize_name(parsed.name) != DISTRIBUTION:
        return (f"'{requirement}' installs '{parsed.name}', not {DISTRIBUTION}: CI would have no paybill command; "
                f"write e.g. {EXAMPLES}")
    return None


def render_workflow(text: str, requirement: str | None) -> str:
    """A workflow template with ``requirement`` as the default of ``vars.PAYBILL_PIP_REQUIREMENT``."""
    if not requirement:
        return text
    quoted = requirement.replace("'", "''")  # a string literal in a GitHub expression
    return text.replace(DEFAULT_MARKER, f"vars.{VARIABLE} || '{quoted}'")
