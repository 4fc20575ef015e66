"""The ONE table of PostgreSQL majors: which major each cloud's managed PostgreSQL service runs.

Why one table: the SQL emitter writes one schema for every cloud, so the servers it runs on should
differ only where a service cannot offer the newest major, and that difference must be visible in
one place (and explained), not scattered over five ``POSTGRES_VERSION`` constants. Each emitter reads
:func:`postgres_major` and only formats it the way its Terraform provider spells it
(``engine_version = "18"``, ``database_version = "POSTGRES_18"``, ...).

Rule: the newest major that is generally available (not preview, not beta) on the service, checked
against each service's own documentation (searched 2026; sources below). PostgreSQL 19 had only
reached beta then (19 Beta 1 on 2026-06-04, community GA planned for September/October 2026) and no
service listed it as GA, so 18 is the newest possible major.

* ``aws`` - Amazon RDS for PostgreSQL: **18**. The RDS for PostgreSQL release notes
  (docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html) list 18
  minor versions (18.1 onwards; postgresql-extensions.html has the extension table for 18.1). They
  have a PostgreSQL 19 section too, which can only be the Database Preview Environment (RDS offers
  community betas there, e.g. 18 Beta 1-3 before 18.1), not a GA major.
* ``azure`` - Azure Database for PostgreSQL flexible server: **18**. 18 started as a preview (version
  policy page, learn.microsoft.com/azure/postgresql/configure-maintain/concepts-version-policy:
  "25-Sep-2025 (Preview)"); the 2025-08-01 flexible server API adds 17 and 18, Azure Verified Modules
  allow 18 since 2025-11, and 18 is reported GA in 2026 (Azure/azure-rest-api-specs#36817).
  ``azurerm_postgresql_flexible_server.version`` is validated against the enum of the go-azure-sdk
  API version the provider release uses, which the schema fixtures do not record: if an azurerm 5.x
  release still rejects "18", this is the line to change.
* ``gcp`` - Cloud SQL for PostgreSQL: **18**. The Cloud SQL Admin API's ``SqlDatabaseVersion``
  (v1 and v1beta4, cloud.google.com/sql/docs/postgres/admin-api/rest/v1/SqlDatabaseVersion) has
  ``POSTGRES_18``; Cloud SQL supports a new major within 90 days of its community GA (db-versions
  page). It is also the only PostgreSQL value checkov's CKV_GCP_79 accepts.
* ``oci`` - OCI Database with PostgreSQL: **16**; the service does not (as far as its documentation
  shows) offer 18. Its documentation (docs.oracle.com/iaas/Content/postgresql: overview, supported
  extensions, major version upgrade guide) names no major beyond 16 that could be confirmed, so the
  newest confirmed major stays. Revisit when Oracle announces 17 or 18 for the service.
* ``ibm`` - IBM Cloud Databases for PostgreSQL: **17**; the service does not offer 18. The Cloud
  Databases versioning policy (cloud.ibm.com/docs/cloud-databases?topic=cloud-databases-versioning-policy,
  classic and Gen 2) names v17 as the preferred major (v16 and "v17 (Preview)" in 2025-03); 18 is not
  listed.

Changing a major here only changes what new stacks get. For a database that already exists it is a
major version upgrade, which this table does not automate (RDS refuses it without
``allow_major_version_upgrade`` and replaces the parameter group, whose ``family`` is per major; the
other services have their own upgrade procedures): read the plan before applying.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PostgresService:
    """One cloud's managed PostgreSQL service and the major paybill provisions on it."""

    service: str
    major: int


POSTGRES_SERVICES: dict[str, PostgresService] = {
    "aws": PostgresService("Amazon RDS for PostgreSQL", 18),
    "azure": PostgresService("Azure Database for PostgreSQL flexible server", 18),
    "gcp": PostgresService("Cloud SQL for PostgreSQL", 18),
    "oci": PostgresService("OCI Database with PostgreSQL", 16),
    "ibm": PostgresService("IBM Cloud Databases for PostgreSQL", 17),
}
"""Cloud spec provider (``models/cloud.py``) -> service; see the module docstring for the sources."""


def postgres_major(cloud: str) -> int:
    """The PostgreSQL major paybill provisions on ``cloud``'s managed service."""
    return POSTGRES_SERVICES[cloud].major
