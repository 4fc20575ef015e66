"""The stack layout moved to :mod:`paybill.resolve.units`: stack units are part of the resolved
model, derived before the graph. This name stays for callers that still import it from here."""

from paybill.resolve.units import StackUnit, removed_stacks, stack_units

__all__ = ["StackUnit", "removed_stacks", "stack_units"]
