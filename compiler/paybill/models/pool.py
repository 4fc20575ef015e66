"""Pool: shared infrastructure on one cloud and region for pooled and bridge tenants."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from paybill.models.base import Envelope, Layer, Name, SpecModel
from paybill.models.cloud import Cidr, Region
from paybill.models.plan import Sizing


class Capacity(SpecModel):
    max_tenants: int = Field(ge=1, le=100_000)
    """Tenants (not deleted) that may use this pool at once."""


class PoolSpec(SpecModel):
    cloud: Name
    region: Region
    capacity: Capacity
    layers: list[Layer] = Field(min_length=1)
    """Layers this pool offers; a tenant may place a layer as ``pooled`` only if its pool offers it."""
    sizing: Sizing
    network_cidr: Cidr | None = None
    """The pool's shared network; derived from the pool name like tenant networks when unset."""


class Pool(Envelope):
    kind: Literal["Pool"]
    spec: PoolSpec
