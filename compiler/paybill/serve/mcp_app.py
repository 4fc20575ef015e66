"""The MCP face of a :class:`paybill.serve.service.Service`: the official SDK's low-level server.

The low-level ``mcp.server.lowlevel.Server`` (not ``MCPServer``) because the tools and their JSON
Schemas are generated from the bundle at start, not written as Python functions. A call runs in a
worker thread (psycopg and the guard are synchronous) of a bounded thread pool, so a flood of calls
queues instead of spawning threads; a refusal is a tool result with ``is_error`` and the reasons.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import mcp_types as types
import orjson
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from paybill import __version__
from paybill.serve.metrics import ServeMetrics
from paybill.serve.service import Outcome, Served, Service

INSTRUCTIONS = (
    "paybill holds this agent to its compiled policy bundle. Start a run with start_run (tenant, workflow), pass "
    "its run_id and tenant to every other tool, and move through the workflow's steps with advance_step. Every "
    "call is checked (policy, workflow order, approvals, limits, tenant lifecycle); a refused call returns an "
    "error result with the reasons. Raw SQL is never accepted."
)


def _tool(tool: Any) -> types.Tool:
    hints = None
    if tool.kind == "read":
        hints = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    elif tool.kind in ("update", "delete"):
        hints = types.ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
    return types.Tool(name=tool.name, description=tool.description, input_schema=tool.input_schema,
                      annotations=hints)


def result_of(outcome: Outcome) -> types.CallToolResult:
    text = outcome.text()
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=orjson.loads(text),
                                is_error=not outcome.ok)


@dataclass(frozen=True)
class _Generation:
    """What ``tools/list`` answers for one generation of a service's bundle and catalog."""

    served: Served
    listed: types.ListToolsResult
    annotated: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, service: Service, metrics: ServeMetrics) -> _Generation:
        served = service.served
        metrics.tools = metrics.tools | set(served.tools)  # a reload may add tools: label them by name
        return cls(served, types.ListToolsResult(tools=[_tool(t) for t in served.tools.values()]),
                   {name: tool.input_schema for name, tool in served.tools.items()
                    if b"x-mcp-header" in orjson.dumps(tool.input_schema)})


def build_server(service: Service, metrics: ServeMetrics, *, max_concurrency: int | None = None) -> Server[Any]:
    """An MCP server listing the service's tools and routing calls to it.

    ``max_concurrency``: calls running in worker threads at once; by default the service's pool
    size. Why not more: every call holds a pool connection for its whole run, so a thread beyond the
    pool's size could only park on the pool's lock - while still competing for the GIL, and waking
    and being woken through futexes; a call beyond the limit waits in the executor's queue instead,
    without a thread (measured with 16 clients on a pool of 8: a limit of 8 instead of 16 cut the
    server's CPU per call, see docs/serve.md).

    Why ``loop.run_in_executor`` and a ``ThreadPoolExecutor`` rather than
    ``anyio.to_thread.run_sync`` with a limiter: the same hand-off (a queue to an idle thread, the
    result back through ``call_soon_threadsafe``) without anyio's cancel scope, event, limiter and
    Python ``queue.Queue`` per call: 14-21 us of CPU per hand-off instead of 43-62 us (16 concurrent
    callers on uvloop, ``benchmarks/bench_serve_handoff.py``). A
    call that started runs to its end either way (its transaction commits or rolls back in the
    thread); one still queued when its request is cancelled never runs.
    """
    generation: list[_Generation] = [_Generation.of(service, metrics)]

    def current() -> _Generation:
        """The tool list and annotated schemas of what the service serves now (rebuilt after a reload)."""
        found = generation[0]
        if found.served is not service.served:
            found = generation[0] = _Generation.of(service, metrics)
        return found

    executor = ThreadPoolExecutor(max_concurrency or service.config.pool_max, thread_name_prefix="paybill-call")

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return current().listed

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        started = time.perf_counter()
        outcome = await asyncio.get_running_loop().run_in_executor(executor, service.call, params.name,
                                                                   params.arguments)
        metrics.observe(params.name, outcome.outcome, outcome.policy, time.perf_counter() - started)
        return result_of(outcome)

    # The SDK checks a modern call's ``Mcp-Param-*`` headers against the ``x-mcp-header``
    # annotations of the tool's input schema, walking the schema on every call. paybill's generated
    # schemas carry no such annotation, so there is nothing to check (the SDK validates nothing for
    # an unannotated schema either): None says so without the walk. A schema that did carry one
    # would be returned and checked.
    def input_schema(name: str) -> dict[str, Any] | None:
        return current().annotated.get(name)

    server: Server[Any] = Server("paybill", version=__version__, title=f"paybill ({service.guard.agent})",
                                 instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool,
                                 get_tool_input_schema=input_schema)
    # The SDK's only default middleware opens an OpenTelemetry span per message; paybill's telemetry is
    # its Prometheus metrics (and the decision log), so the span - a no-op without an OTel SDK, yet a
    # few percent of the event loop's time per call - is left out.
    server.middleware = []
    return server
