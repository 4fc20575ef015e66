"""Prometheus metrics of one server: decisions by outcome, agent, tool and deciding policy, and latency.

A registry of its own (not the process-global one), so two servers in one process (tests) never
share counters. Label values are bounded: tools and policies come from the bundle, outcomes are
four words, and an unknown tool name a client sends is counted as ``unknown``.

With ``paybill serve --workers N`` a scrape reaches whichever worker accepted the connection, so
every worker must answer for all of them: the workers keep their values in prometheus_client's
multiprocess mode (one memory-mapped file per worker and metric type in a directory the parent
made), and each worker's ``/metrics`` merges every worker's files. A worker that ended keeps its
counts in the sum, as counters must.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServeMetrics:
    def __init__(self, agent: str, tools: set[str], *, shared_dir: Path | None = None) -> None:
        """``shared_dir``: the directory of a ``--workers`` server's shared values (see the module
        docstring); None keeps the values in this object. Only a worker process passes one: it
        switches prometheus_client to multiprocess values for the whole process."""
        self.agent = agent
        self.tools = tools
        self.registry = CollectorRegistry(auto_describe=True)
        own: CollectorRegistry | None = self.registry
        if shared_dir is not None:
            os.environ[MULTIPROCESS_ENV] = str(shared_dir)  # where the values' files are written
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
            MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
            own = None  # rendered from the files (all workers'), not from this process's objects
        self.decisions = Counter("paybill_serve_decisions", "Tool calls decided, by outcome, agent, tool and "
                                 "deciding policy", ("outcome", "agent", "tool", "policy"), registry=own)
        self.latency = Histogram("paybill_serve_call_seconds", "Tool call latency inside the server (guard, "
                                 "PostgreSQL and run state)", ("agent", "tool", "outcome"), registry=own,
                                 buckets=LATENCY_BUCKETS)
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        """(tool, outcome, policy) -> its counter and histogram: ``labels()`` once, not per call."""

    def observe(self, tool: str, outcome: str, policy: str, seconds: float) -> None:
        name = tool if tool in self.tools else "unknown"
        key = (name, outcome, policy)
        children = self._children.get(key)
        if children is None:  # label values are bounded (see the module docstring): so is this cache
            children = self._children[key] = (self.decisions.labels(outcome, self.agent, name, policy),
                                              self.latency.labels(self.agent, name, outcome))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
