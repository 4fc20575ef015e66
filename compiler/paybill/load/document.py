"""A spec document: its envelope, its data, and the composed node tree that locates any path in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from paybill.diagnostics import Position
from paybill.load.yaml_tree import locate


@dataclass(slots=True)
class SpecDocument:
    """One YAML document of a spec file.

    ``data`` is the plain dict handed to the models; ``node`` stays attached so any stage can turn a
    path like ``("spec", "plan")`` into a line and column, only when it has something to report.
    """

    path: str
    index: int
    data: dict[str, Any]
    node: Node | None
    kind: str
    name: str
    text_hash: str = ""
    model: Any = field(default=None)

    @property
    def ref(self) -> str:
        """``Kind/name``: how users and the graph name a spec."""
        return f"{self.kind}/{self.name}"

    def position(self, *loc: Any, key: bool = False) -> Position:
        return locate(self.node, tuple(loc), want_key=key)
