"""Which PostgreSQL major each cloud's managed PostgreSQL service runs: read from the cloud profiles.

Why one table: the SQL emitter writes one schema for every cloud, so the servers it runs on should
differ only where a service cannot offer the newest major, and that difference must be declared (and
explained) once per cloud, in its profile, not scattered over five ``POSTGRES_VERSION`` constants. Each emitter reads
:func:`postgres_major` and only formats it the way its Terraform provider spells it
(``engine_version = "18"``, ``database_version = "POSTGRES_18"``, ...).

Rule: the newest major that is generally available (not preview, not beta) on the service, checked
against each service's own documentation (searched 2026; sources below). PostgreSQL 19 had only
reached beta then (19 Beta 1 on 2026-06-04, community GA planned for September/October 2026) and no
service listed it as GA, so 18 is the newest possible major.

The major of each service, and the sources it was checked against, are in each cloud's profile
(``paybill/providers/<cloud>/__init__.py``, :attr:`CloudProfile.postgres`): aws 18, azure 18, gcp 18,
oci 16, ibm 17 when this was written.

Changing a major in a profile only changes what new stacks get. For a database that already exists it is a
major version upgrade, which this table does not automate (RDS refuses it without
``allow_major_version_upgrade`` and replaces the parameter group, whose ``family`` is per major; the
other services have their own upgrade procedures): read the plan before applying.
"""

from __future__ import annotations

from collections.abc import Mapping

from paybill.clouds import registry
from paybill.clouds.profile import PostgresService

__all__ = ["POSTGRES_SERVICES", "PostgresService", "postgres_major", "postgres_services"]


def postgres_services() -> Mapping[str, PostgresService]:
    """Cloud spec provider -> its managed PostgreSQL service, for every registered profile."""
    return {profile.provider: profile.postgres for profile in registry.profiles()}


POSTGRES_SERVICES: Mapping[str, PostgresService] = postgres_services()
"""The built-in clouds' services (a snapshot at import)."""


def postgres_major(cloud: str) -> int:
    """The PostgreSQL major paybill provisions on ``cloud``'s managed service."""
    return registry.get(cloud).postgres.major
