"""The delta compile: a tenant's identity or billing-status edit patched into the last output, without the stages.

At 10,000 tenants every stage of a compile walks every tenant (validate, resolve, graph, Terraform,
the emitters, the manifest: ~2.5 s of CPU and ~0.6 s of imports), even when the change is one
tenant's display name. Most tenant edits of a platform team's day are of that kind: a display name,
a contact, the Stripe customer id, and the billing status the billing webhook flow proposes
(``active`` -> ``past_due`` and back, ``cancelled``; not into or out of a trial). Such an edit
changes no aggregate any other output is built from (pool membership, quota counts, claimed cloud
names, network allocations, database tenant lists, agent scopes and entities), so the new tree is
the old one with a handful of files patched:

* ``tenants/<tenant>.json``: its ``displayName``, ``billing.customerId`` and ``billing.status``;
* every file that lists the spec file's SHA-256 under ``sources`` (its database folder's
  ``migrations.json``, the ``manifest.json`` of each bundle whose scope holds the tenant), known
  from the last full compile (:attr:`paybill.emit.contract.EmitFacts.source_listings`);
* ``manifest.json``: the spec file's input digest and the patched files' digests.

:mod:`paybill.delta.state` keeps what the last compile into an output folder knew (each tenant
document's content less those fields, as a hash); :mod:`paybill.delta.patch` decides whether an edit
is of that kind and patches. Anything else, or any doubt, returns None and the full compile runs.
"""

from paybill.delta.patch import DeltaPatch, compile_delta
from paybill.delta.state import DeltaState, build_state, load_state, save_state

__all__ = ["DeltaPatch", "DeltaState", "build_state", "compile_delta", "load_state", "save_state"]
