"""Cloud: one account/subscription/project on one provider, and where its Terraform state lives."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paybill.models.base import Envelope, LabelKey, LabelValue, SpecModel

Region = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]
Cidr = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
Ocid = Annotated[str, StringConstraints(pattern=r"^ocid1\.[a-z0-9]+\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+$")]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Plain = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
QuotaName = Annotated[str, StringConstraints(pattern=r"^[a-z][A-Za-z0-9]{1,62}$")]
QuotaLimit = Annotated[int, Field(ge=1, le=100_000_000)]


class AwsAccount(SpecModel):
    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class AzureAccount(SpecModel):
    subscription_id: Uuid
    tenant_id: Uuid
    """Entra ID (Azure AD) directory id."""


class GcpAccount(SpecModel):
    project_id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]


class OciAccount(SpecModel):
    tenancy_ocid: Ocid
    compartment_ocid: Ocid


class IbmAccount(SpecModel):
    account_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    resource_group_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


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


class AwsCloudSpec(CloudSpecBase):
    provider: Literal["aws"]
    aws: AwsAccount


class AzureCloudSpec(CloudSpecBase):
    provider: Literal["azure"]
    azure: AzureAccount


class GcpCloudSpec(CloudSpecBase):
    provider: Literal["gcp"]
    gcp: GcpAccount


class OciCloudSpec(CloudSpecBase):
    provider: Literal["oci"]
    oci: OciAccount


class IbmCloudSpec(CloudSpecBase):
    provider: Literal["ibm"]
    ibm: IbmAccount


CloudSpec = Annotated[
    AwsCloudSpec | AzureCloudSpec | GcpCloudSpec | OciCloudSpec | IbmCloudSpec,
    Field(discriminator="provider"),
]


class Cloud(Envelope):
    """A cloud account on one provider."""

    kind: Literal["Cloud"]
    spec: CloudSpec
