"""Cloud: one account/subscription/project on one provider, and where its Terraform state lives.

What differs per provider (its block, ``spec.aws.accountId``...) is declared by the provider's
:class:`~paybill.clouds.profile.CloudProfile`; this module builds the Cloud model from the registered
profiles. The state backend models stay here: they are Terraform backend types, shared by clouds
(IBM Cloud uses ``s3``), and each profile says which ones it can host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, StringConstraints, create_model

from paybill.clouds import registry
from paybill.clouds.profile import CloudProfile
from paybill.models.base import Cidr as Cidr
from paybill.models.base import Envelope, LabelKey, LabelValue, SpecModel
from paybill.models.base import Region as Region
from paybill.quotas import QUOTAS

Plain = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
QuotaName = Annotated[str, StringConstraints(pattern=r"^[a-z][A-Za-z0-9]{1,62}$")]
QuotaLimit = Annotated[int, Field(ge=1, le=100_000_000)]


class S3Backend(SpecModel):
    """Terraform ``s3`` backend (AWS, or IBM Cloud Object Storage through its S3 endpoint)."""

    type: Literal["s3"]
    bucket: Plain
    region: Region
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9/_-]{0,62}$")] = "paybill"
    endpoint: Annotated[str, StringConstraints(pattern=r"^https://[a-z0-9.-]+$")] | None = None
    """Only for S3-compatible stores (IBM COS); AWS leaves it unset."""


class AzurermBackend(SpecModel):
    type: Literal["azurerm"]
    resource_group_name: Plain
    storage_account_name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{3,24}$")]
    container_name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")]


class GcsBackend(SpecModel):
    type: Literal["gcs"]
    bucket: Plain
    prefix: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9/_-]{0,62}$")] = "paybill"


class OciBackend(SpecModel):
    """Terraform's native ``oci`` backend (Terraform >= 1.12)."""

    type: Literal["oci"]
    bucket: Plain
    namespace: Plain
    region: Region


StateBackend = Annotated[
    S3Backend | AzurermBackend | GcsBackend | OciBackend, Field(discriminator="type")
]


class CloudSpecBase(SpecModel):
    regions: list[Region] = Field(min_length=1)
    """Regions tenants and pools may be placed in."""
    address_space: Cidr
    """CIDR tenant and pool networks are carved from (a /16 per network, in name order)."""
    state_backend: StateBackend
    default_tags: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    quotas: dict[QuotaName, QuotaLimit] = Field(default_factory=dict)
    """This account's raised quotas (e.g. ``iamRoles: 5000``), replacing the provider's documented
    defaults that compile counts the fleet against (README "Cloud quotas"; names per provider)."""


# Bases of the models built from profiles. Their documentation comes from the profile, so pydantic
# must not look for attribute docstrings in source code: for a class made by ``create_model`` it
# searches the calling frames' source, which tripled the import time of paybill.models.
class _ProfileAccount(SpecModel):
    model_config = ConfigDict(use_attribute_docstrings=False)


class _ProfileCloudSpec(CloudSpecBase):
    model_config = ConfigDict(use_attribute_docstrings=False)


class _ProfileCloud(Envelope):
    model_config = ConfigDict(use_attribute_docstrings=False)


def _account_model(profile: CloudProfile) -> type[SpecModel]:
    """The pydantic model of the profile's block (``spec.aws``...), named as before (``AwsAccount``)."""
    fields: dict[str, Any] = {
        account.name: (Annotated[str, StringConstraints(pattern=account.pattern)],
                       Field(description=account.doc) if account.doc else ...)
        for account in profile.account
    }
    return create_model(f"{_class_stem(profile)}Account", __base__=_ProfileAccount, __doc__=profile.account_doc,
                        __module__=__name__, **fields)


def _class_stem(profile: CloudProfile) -> str:
    return "".join(part.capitalize() for part in profile.provider.replace("_", "-").split("-"))


_spec_models: dict[int, tuple[CloudProfile, type[CloudSpecBase]]] = {}
"""id(profile) -> (profile, its spec model): one class per profile, reused when the union is rebuilt
(so ``isinstance`` against :func:`spec_model` holds across registrations)."""


def _spec_model(profile: CloudProfile) -> type[CloudSpecBase]:
    found = _spec_models.get(id(profile))
    if found is None or found[0] is not profile:
        found = _spec_models[id(profile)] = (profile, _new_spec_model(profile))
    return found[1]


def spec_model(provider: str) -> type[CloudSpecBase]:
    """The spec model of a registered provider (``AwsCloudSpec``...), for emitters narrowing ``cloud.spec``."""
    return _spec_model(registry.get(provider))


def _quotas_field(provider: str) -> tuple[Any, Any] | None:
    """``spec.quotas`` documented with this provider's quota names, for editor completion and hover.

    The names become schema ``properties`` (each with what it counts, its scope and documented
    default) beside the unchanged ``patternProperties``: what validates is the same as before (an
    unknown name is PB0680 with a did-you-mean, a rule with more to say than a schema), but an
    editor now offers ``iamRoles`` on AWS and ``serviceAccounts`` on GCP instead of nothing, and the
    example in the description is one of this provider's names, not AWS's on every cloud.
    """
    known = QUOTAS.get(provider, ())
    if not known:
        return None

    def document(schema: dict[str, Any]) -> None:
        schema["properties"] = {
            q.name: {"type": "integer", "minimum": 1, "maximum": 100_000_000,
                     "description": f"{q.description} {q.scope_label}: documented default {q.default:,}"
                                    f"{'' if q.verified else ' (unverified)'} ({q.doc})"}
            for q in known}

    example = known[0]
    return (dict[QuotaName, QuotaLimit], Field(
        default_factory=dict, json_schema_extra=document,
        description=f"This account's raised quotas (e.g. ``{example.name}: {example.default * 5}``), replacing "
                    "the provider's documented defaults that compile counts the fleet against (README \"Cloud "
                    "quotas\"); an unknown name is an error (PB0680)."))


def _new_spec_model(profile: CloudProfile) -> type[CloudSpecBase]:
    """``AwsCloudSpec``...: the common fields, ``provider`` and the profile's block under its id."""
    fields: dict[str, Any] = {
        "provider": (Literal[profile.provider], ...),
        profile.provider: (_account_model(profile), ...),
    }
    quotas = _quotas_field(profile.provider)
    if quotas is not None:
        fields["quotas"] = quotas
    return create_model(f"{_class_stem(profile)}CloudSpec", __base__=_ProfileCloudSpec, __module__=__name__,
                        **fields)


def build_cloud_model(profiles: tuple[CloudProfile, ...], base: type[Envelope] | None = None) -> type[Envelope]:
    """The ``Cloud`` kind's model for these profiles: a union of their spec models by ``provider``.

    ``base``: the built-in clouds' model, which a model for more clouds subclasses so that
    ``isinstance(model, Cloud)`` still holds for every validated Cloud.
    """
    specs = tuple(_spec_model(profile) for profile in profiles)
    spec_type: Any = Annotated[Union[specs], Field(discriminator="provider")] if len(specs) > 1 else specs[0]  # noqa: UP007
    fields: dict[str, Any] = {"kind": (Literal["Cloud"], ...), "spec": (spec_type, ...)}
    return create_model("Cloud", __base__=base or _ProfileCloud, __doc__="A cloud account on one provider.",
                        __module__=__name__, **fields)


_built: dict[tuple[int, ...], tuple[tuple[CloudProfile, ...], type[Envelope]]] = {}
"""Profile ids -> (the profiles, kept alive so their ids stay theirs; the model)."""


def cloud_model() -> type[Envelope]:
    """The ``Cloud`` model for the profiles registered now (rebuilt when the set of clouds changes;
    the built-in clouds' model is kept, so unregistering a sixth cloud returns to :data:`Cloud`)."""
    profiles = registry.profiles()
    key = tuple(id(profile) for profile in profiles)
    found = _built.get(key)
    if found is None:
        for stale in list(_built)[1:]:  # keep the first (built-in) model, drop other stale ones
            del _built[stale]
        first = next(iter(_built.values()), None)
        found = _built[key] = (profiles, build_cloud_model(profiles, first[1] if first else None))
    return found[1]


if TYPE_CHECKING:
    class _AnyCloudSpec(_ProfileCloudSpec):
        provider: str

    class Cloud(_ProfileCloud):
        """What the type checker knows of every Cloud model :func:`cloud_model` builds (they are made at
        run time from the registered profiles): its spec is one provider's spec model, with the common
        fields and ``provider`` (narrow it to the provider's block with :func:`spec_model`)."""

        kind: Literal["Cloud"]
        spec: _AnyCloudSpec
else:
    Cloud = cloud_model()
    """A cloud account on one provider (the built-in clouds)."""
