"""The MCP floor of ``bench_serve.py``: the official SDK's server with tools that do nothing.

The same stack as ``paybill serve --transport http`` - the SDK's low-level ``Server``, its
streamable HTTP app (stateless, JSON responses), uvicorn with uvloop and httptools, TCP_NODELAY -
and the same tool names and result shapes (``start_run`` returns a run id, ``read_tickets`` the
same 20 rows as structured content and text), but no guard, no PostgreSQL, no worker thread. What
a call costs here is what any Python MCP server on this SDK costs before doing any work; the
difference to ``paybill serve`` is paybill's own cost.

Usage (bench_serve.py starts it): ``python benchmarks/mcp_floor.py ROWS``; prints
``listening on URL`` on standard error and serves until terminated. No bearer token (nothing to
protect: the rows are made up).
"""

from __future__ import annotations

import socket
import sys
import uuid
from typing import Any

import mcp_types as types
import orjson
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

COLUMNS = ["id", "subject", "status", "priority", "assignee"]


def build(rows: int) -> Server[Any]:
    reason = "specs/agents/ops-agent.yaml#permissions.tables.tickets.read"
    data = {"columns": COLUMNS, "count": rows, "reasons": [reason],
            "rows": [{"assignee": None, "id": str(uuid.uuid4()), "priority": "p2", "status": "open",
                      "subject": f"subject {i}"} for i in range(rows)], "run_id": "run-0", "step": "inspect"}
    schema = {"type": "object", "additionalProperties": True}
    names = ("start_run", "read_tickets")
    tools = types.ListToolsResult(tools=[types.Tool(name=n, input_schema=schema) for n in names])

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return tools

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        out = {"run_id": "run-0"} if params.name == "start_run" else data
        text = orjson.dumps(out, option=orjson.OPT_SORT_KEYS).decode()
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=orjson.loads(text),
                                    is_error=False)

    server: Server[Any] = Server("mcp-floor", on_list_tools=list_tools, on_call_tool=call_tool,
                                 get_tool_input_schema=lambda name: None)
    server.middleware = []
    return server


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 20
    app = build(rows).streamable_http_app(json_response=True, stateless_http=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, server_header=False,
                            date_header=False, loop="auto", http="auto")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
