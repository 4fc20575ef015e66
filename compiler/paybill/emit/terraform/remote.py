"""How a tenant stack reads its pool stack's outputs.

A leaf module (no imports from the driver) so cloud emitters can use :func:`pool_output` without an
import cycle: the driver (:mod:`.emitter`) imports the providers package, which imports the cloud
modules. :mod:`.emitter` re-exports both names.
"""

from __future__ import annotations

import functools

from paybill.emit.terraform.expr import Expr, ref

POOL_STATE = "pool"
"""Local name of the ``terraform_remote_state`` data source the driver declares in tenant stacks."""


@functools.cache
def pool_output(name: str) -> Expr:
    """Expression reading an output of the tenant's pool stack (memoised: asked ~15 times per stack)."""
    return ref("data", "terraform_remote_state", POOL_STATE, "outputs", name)
