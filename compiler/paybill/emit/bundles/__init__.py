"""Agent policy bundles: one Cedar bundle per agent (``bundles/<agent>/``), enforced by ``paybill.guard``.

Files of a bundle: ``schema.cedarschema`` (types), ``policies.cedar`` (one policy per grant,
transition and rule, each with a stable ``@id``), ``entities.json``, ``workflow.json``,
``limits.json``, ``tests.json`` (golden decisions) and ``manifest.json`` (revision, sources,
hashes, versions, optional Ed25519 signature). Modules, one job each: ``facts`` (what the specs
say), ``cedar_text`` (escaping), ``schema_text``/``policies``/``documents``/``goldens`` (the
files), ``checks`` (Cedar-evaluated compile-time guarantees), ``manifest``, ``emitter``.
"""

from paybill.emit.bundles.emitter import BUNDLES_EMITTER, build_bundle, emit_bundles

__all__ = ["BUNDLES_EMITTER", "build_bundle", "emit_bundles"]
