"""Stage 3, graph: what must exist before what, over specs and the stacks emitted from them.

An edge ``u -> v`` means "``u`` must exist first": ``v`` depends on ``u``. So a topological order
is an apply order, a node's predecessors are what it needs, and its descendants are everything a
change to it can touch (the impact of a plan or pool change). See :mod:`paybill.graph.model`.
"""

from paybill.graph.build import build_graph
from paybill.graph.cycles import report_cycles
from paybill.graph.model import DependencyGraph, EdgeInfo, NodeInfo, node_id, stack_node_id
from paybill.graph.stacks import StackUnit, removed_stacks, stack_units

__all__ = [
    "DependencyGraph",
    "EdgeInfo",
    "NodeInfo",
    "StackUnit",
    "build_graph",
    "node_id",
    "removed_stacks",
    "report_cycles",
    "stack_node_id",
    "stack_units",
]
