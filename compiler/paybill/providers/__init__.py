"""The built-in clouds, one package each: ``aws``, ``azure``, ``gcp``, ``oci``, ``ibm``.

Each package exports one :class:`~paybill.clouds.profile.CloudProfile` as ``PROFILE`` (pure data:
importing it loads no emitter); importing this package registers the five, in this order (the order
of the Cloud spec's union and of the JSON Schema). The emitters stay in the emit stage
(``paybill.emit.terraform.providers.<cloud>``), named by each profile's ``emitter`` entry point, so
models, validate and plan can read every cloud fact without loading emit code. A sixth cloud is one
package that builds a profile and calls :func:`paybill.clouds.registry.register` (see
docs/architecture.md, "Clouds").
"""

from __future__ import annotations

from paybill.clouds.registry import register
from paybill.providers import aws, azure, gcp, ibm, oci

BUILTIN = (aws.PROFILE, azure.PROFILE, gcp.PROFILE, oci.PROFILE, ibm.PROFILE)

for _profile in BUILTIN:
    register(_profile)
