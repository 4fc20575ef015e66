"""Shared building blocks: the strict model base, the name grammar, the envelope."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from paybill import API_VERSION

# The name grammar lives in paybill.contract.names, which the runtime shares; it is re-exported here
# because the models and many rules read it from this module.
from paybill.contract.names import IDENT_PATTERN as IDENT_PATTERN
from paybill.contract.names import NAME_MAX as NAME_MAX
from paybill.contract.names import NAME_PATTERN as NAME_PATTERN
from paybill.contract.names import NAME_RE as NAME_RE
from paybill.models import docstrings

docstrings.install()  # before the first model: its field docstrings found with one parse per file

LABEL_KEY_PATTERN = r"^[a-z](?:[a-z0-9_-]{0,61}[a-z0-9])?$"
LABEL_VALUE_PATTERN = r"^(?:[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)?$"
# Free text that may reach Terraform or Cedar: printable, bounded; escaping happens at emit time.
TEXT_MAX = 256

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=NAME_MAX)]
Identifier = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN)]


_CONTROL_CLASS = r"\u0000-\u0008\u000a-\u001f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
"""C0 control characters except tab: one regex search instead of a Python loop per character,
which was the costliest check of a 10,000-tenant validation."""
TEXT_JSON_PATTERN = f"^[^{_CONTROL_CLASS}]*$"
"""The same rule for editors: without it the JSON Schema accepted text that paybill rejects."""


class HintedValueError(ValueError):
    """A validator's rejection with its fix. pydantic keeps the exception in the error's context, and
    :func:`paybill.validate.schema_errors.report_validation_error` renders ``hint`` under the message
    (PB0207): a check that is not about type, format or range is the one whose fix the schema cannot
    tell, so the validator that knows why it refused says how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_REACHES = "free text reaches Terraform tags, Cedar annotations and terminals"


def _printable(value: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        if found.group() == "\n":
            if value.index("\n") == len(value) - 1:  # a block scalar ('|' or '>') keeps a final newline
                hint = "a '|' or '>' block scalar keeps a final line break: use '>-', which folds lines and drops it"
            else:
                hint = f"write one line: '>-' folds a block's lines into one ({_REACHES})"
            raise HintedValueError("line breaks are not allowed", hint)
        raise HintedValueError(f"control character U+{ord(found.group()):04X} is not allowed",
                               f"remove it (character {found.start() + 1} of the value): {_REACHES}, so it must "
                               "be printable (a tab is allowed)")
    return value


Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TEXT_MAX),
    AfterValidator(_printable),
    Field(json_schema_extra={"pattern": TEXT_JSON_PATTERN}),
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s\"'`$]+@[a-z0-9.-]+\.[a-z]{2,}$", max_length=254)]

Layer = Literal["compute", "database", "storage", "network", "keys", "identity"]
LAYERS: tuple[str, ...] = ("network", "keys", "identity", "database", "storage", "compute")
IsolationModel = Literal["silo", "pooled", "bridge"]
Placement = Literal["silo", "pooled"]
Size = Literal["xsmall", "small", "medium", "large", "xlarge"]
SIZES: tuple[str, ...] = ("xsmall", "small", "medium", "large", "xlarge")


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One shared ``__pydantic_fields_set__`` per distinct set of given fields (see ``SpecModel.model_post_init``)."""


Region = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]
Cidr = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
"""Shared by tenants and clouds; here rather than in :mod:`paybill.models.cloud`, so validating a
Tenant does not build the cloud profiles' models (:mod:`paybill.delta` validates one tenant)."""


class SpecModel(BaseModel):
    """Base for every spec model: strict types, unknown keys rejected, camelCase keys in YAML.

    Strict mode means ``"5"`` is not a number and ``1`` is not ``true``; YAML's loose typing is the
    source of many production incidents and specs are the place to stop it.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=False,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
        str_strip_whitespace=False,
    )

    def model_post_init(self, context: Any, /) -> None:
        """Share the set of fields given with every instance that was given the same fields.

        pydantic keeps one ``set`` per instance of the names set at validation; with about nine
        models per tenant that was the largest part of a tenant's models (a set of six or more
        names takes 728 bytes: ~250 MB at 100,000 tenants), for about sixty distinct sets. Spec
        models are frozen, so nothing adds to the set in place; ``model_copy`` copies it first.
        """
        fields = self.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(fields), fields)
        if shared is not fields:
            object.__setattr__(self, "__pydantic_fields_set__", shared)


class Metadata(SpecModel):
    """Identity of a spec: its name (unique per kind), labels to select it by, free annotations."""

    name: Name
    """Unique per kind. Lower case letters, digits and single hyphens; starts with a letter; 1-40."""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Selectable key/value pairs: agent scopes select tenants by them, agent bundles carry them as Cedar tags
    and entitlement files list them (cloud resources are tagged from the cloud's defaultTags, not from labels)."""
    annotations: dict[Annotated[str, StringConstraints(max_length=128)], Text] = Field(default_factory=dict)
    """Free-form notes for humans and tools; never used for decisions."""


class Envelope(SpecModel):
    """The Kubernetes-style wrapper every document has."""

    api_version: Literal["paybill.dev/v1alpha1"] = Field(alias="apiVersion")
    """Always ``paybill.dev/v1alpha1`` for this version of the spec language."""
    metadata: Metadata


assert API_VERSION == "paybill.dev/v1alpha1"
