"""AWS database layer: RDS for PostgreSQL, private, encrypted, TLS-only, protected from deletion.

One ``aws_db_instance`` per pool and per silo-database tenant (Multi-AZ from the plan's
``highAvailability``), in the owner's private subnets, with its own security group admitting
PostgreSQL only from the CIDRs the application pods run in. Storage is encrypted with the owner's
customer managed key, which also encrypts the master password RDS keeps in Secrets Manager
(``manage_master_user_password``: no password ever appears in Terraform state). A parameter group
forces TLS (``rds.force_ssl``, TLS 1.2 minimum) and logs connections; the PostgreSQL and upgrade
logs are exported to KMS-encrypted CloudWatch log groups with a one-year retention. Deletion
protection is always on and a final snapshot is always taken; while a tenant is offboarding its
automated backups outlive the instance, retention is raised to the maximum and a manual snapshot is
taken so the export does not depend on the instance still existing.

Applications connect with IAM database authentication: the tenant role may ``rds-db:connect`` as
the database's application login (``paybill_app_<database>``, named by the SQL emitter); in a
pooled database, row-level security separates tenants (see :mod:`paybill.emit.sql`).
"""

from __future__ import annotations

from typing import Any

from paybill.contract.sql_names import app_role, database_key, snake
from paybill.emit.terraform.expr import Expr, concat, ref
from paybill.emit.terraform.providers.aws.common import (
    DB_IDENTIFIER,
    GENERIC,
    POSTGRES_FAMILY,
    POSTGRES_MAJOR,
    SIZES,
    Scope,
    pool_output,
    statement,
)
from paybill.emit.terraform.providers.aws.identity import service_role

PORT = 5432
LOG_EXPORTS = ("postgresql", "upgrade")
MAX_BACKUP_RETENTION = 35
PARAMETERS = (
    ("rds.force_ssl", "1"),
    ("ssl_min_protocol_version", "TLSv1.2"),
    ("log_connections", "1"),
    ("log_disconnections", "1"),
    ("log_min_duration_statement", "1000"),
)


def own_database(scope: Scope) -> tuple[Expr, str, str]:
    """The owner's instance; returns (resource id for IAM auth, database name, application login)."""
    assert scope.network is not None and scope.key_arn is not None
    stack = scope.stack
    tenant = scope.tenant
    sizing = scope.sizing.database
    size = SIZES[sizing.size]
    identifier = scope.claimed(DB_IDENTIFIER)
    key = database_key(scope.kind, scope.name)
    db_name, login = snake(key), app_role(key)

    security_group = stack.resource("aws_security_group", "database", {
        "name": scope.claimed(GENERIC, "database"),
        "description": "PostgreSQL from the application subnets only",
        "vpc_id": scope.network.vpc_id,
    })
    for index, cidr in enumerate(scope.compute_cidrs):
        stack.resource("aws_vpc_security_group_ingress_rule", f"database_{index}", {
            "security_group_id": security_group.attr("id"),
            "description": "PostgreSQL from application pods",
            "cidr_ipv4": cidr,
            "ip_protocol": "tcp",
            "from_port": PORT,
            "to_port": PORT,
        })
    subnet_group = stack.resource("aws_db_subnet_group", "database", {
        "name": identifier,
        "description": f"paybill {scope.kind} {scope.name}: private subnets",
        "subnet_ids": scope.network.subnet_ids,
    })
    parameters = stack.resource("aws_db_parameter_group", "database", {
        "name": identifier,
        "family": POSTGRES_FAMILY,
        "description": f"paybill {scope.kind} {scope.name}: TLS required, connections logged",
        "parameter": [{"name": n, "value": v, "apply_method": "pending-reboot" if n == "rds.force_ssl" else "immediate"}
                      for n, v in PARAMETERS],
    })
    log_groups = []
    for export in LOG_EXPORTS:
        group = stack.resource("aws_cloudwatch_log_group", f"rds_{export}", {
            "name": f"/aws/rds/instance/{identifier}/{export}",
            "retention_in_days": 365,
            "kms_key_id": scope.key_arn,
        })
        log_groups.append(group.address)
    monitoring = service_role(scope, "rds_monitoring", "monitoring.rds.amazonaws.com",
                              ["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"])
    offboarding = tenant is not None and tenant.offboarding
    body = {
        "identifier": identifier,
        "engine": "postgres",
        "engine_version": POSTGRES_MAJOR,
        "instance_class": size.db_instance_class,
        "allocated_storage": max(20, sizing.storage_gb),
        "max_allocated_storage": max(20, sizing.storage_gb) * 2,
        "storage_type": "gp3",
        "storage_encrypted": True,
        "kms_key_id": scope.key_arn,
        "db_name": db_name,
        "username": "paybill_admin",
        "manage_master_user_password": True,
        "master_user_secret_kms_key_id": scope.key_arn,
        "iam_database_authentication_enabled": True,
        "db_subnet_group_name": subnet_group.attr("name"),
        "vpc_security_group_ids": [security_group.attr("id")],
        "parameter_group_name": parameters.attr("name"),
        "port": PORT,
        "publicly_accessible": False,
        "multi_az": sizing.high_availability,
        "backup_retention_period": MAX_BACKUP_RETENTION if offboarding else sizing.backup_retention_days,
        "backup_window": "02:00-03:00",
        "maintenance_window": "sun:03:30-sun:04:30",
        "copy_tags_to_snapshot": True,
        "deletion_protection": True,
        "skip_final_snapshot": False,
        "final_snapshot_identifier": f"{identifier}-final",
        "delete_automated_backups": not offboarding,
        "auto_minor_version_upgrade": True,
        "enabled_cloudwatch_logs_exports": list(LOG_EXPORTS),
        "monitoring_interval": 60,
        "monitoring_role_arn": monitoring.attr("arn"),
        "performance_insights_enabled": size.performance_insights,
        "ca_cert_identifier": "rds-ca-rsa2048-g1",
        "apply_immediately": False,
        "depends_on": log_groups,
    }
    if size.performance_insights:
        body["performance_insights_kms_key_id"] = scope.key_arn
        body["performance_insights_retention_period"] = 7
    instance = stack.resource("aws_db_instance", "main", body)
    if offboarding:
        stack.resource("aws_db_snapshot", "offboarding", {
            "db_instance_identifier": instance.attr("identifier"),
            "db_snapshot_identifier": f"{identifier}-offboarding",
        })
    scope.output("db_address", instance.attr("address"), "Hostname of the PostgreSQL instance")
    scope.output("db_port", PORT, "PostgreSQL port")
    scope.output("db_name", db_name, "Database name")
    return instance.attr("resource_id"), db_name, login


def _connect(scope: Scope, resource_id: Expr, login: str) -> dict[str, Any]:
    arn = concat(f"arn:aws:rds-db:{scope.region}:{scope.account_id}:dbuser:", resource_id, f"/{login}")
    return statement("ConnectToDatabase", "Allow", ["rds-db:connect"], [arn])


def emit_pool_database(scope: Scope) -> None:
    resource_id, _, login = own_database(scope)
    scope.output("db_resource_id", resource_id, "RDS resource id (for rds-db:connect ARNs)")
    scope.output("db_app_login", login, "The application login tenants connect as (IAM authentication)")
    scope.output("db_security_group_id", ref("aws_security_group", "database", "id"),
                 "Security group of the pool database")


def emit_tenant_database(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None
    if tenant.layers.silo("database"):
        resource_id, _, login = own_database(scope)
        scope.add_statement(_connect(scope, resource_id, login))
        if not tenant.layers.keeps_pooled("database"):
            return
    # Pooled, or kept during a migration until decommission (the rows are copied from there).
    scope.add_statement(_connect(scope, pool_output("db_resource_id"), _pool_login(scope)))
    if scope.network is not None and scope.network.own and tenant.layers.silo("compute"):
        # The tenant's own cluster, in its own (peered) VPC, reaches the pool database.
        scope.stack.resource("aws_vpc_security_group_ingress_rule", "pool_database_from_tenant", {
            "security_group_id": pool_output("db_security_group_id"),
            "description": f"PostgreSQL from tenant {scope.name}",
            "cidr_ipv4": scope.network.cidr,
            "ip_protocol": "tcp",
            "from_port": PORT,
            "to_port": PORT,
        })


def _pool_login(scope: Scope) -> str:
    tenant = scope.tenant
    assert tenant is not None and tenant.pool is not None
    return app_role(database_key("pool", tenant.pool.metadata.name))
