"""Cloud profiles: everything paybill knows about one cloud, declared once, as data.

A :class:`~paybill.clouds.profile.CloudProfile` says what the Cloud spec's block for the cloud looks
like, which state backends it can host, its resource name rules, its PostgreSQL major, its Terraform
provider pins and the ForceNew / data-store / provider-scope tables versioned with them, the
capability checks validation runs for it, what its stacks use of its quotas, and where its Terraform emitter lives.
:mod:`paybill.clouds.registry` registers profiles and looks them up by provider id; the five built-in
ones live in :mod:`paybill.providers` (one package per cloud). Models, validation rules, the
Terraform backend/PostgreSQL/emitter lookups and the plan's replacement rules read only profiles, so
no other layer holds cloud-specific if/else.

This package imports nothing else from paybill: models, validate, emit and plan import it, never the
other way round.
"""
