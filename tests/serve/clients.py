"""The official MCP Python client against a served agent, over streamable HTTP or stdio."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

T = TypeVar("T")


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@asynccontextmanager
async def stdio_client(args: list[str], env: dict[str, str] | None = None) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=args[0], args=args[1:], env={**os.environ, **(env or {})})
    async with Client(params) as client:
        yield client


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())  # type: ignore[arg-type]


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    """(ok, structured content) of one tool call."""
    result = await client.call_tool(tool, arguments)
    return not result.is_error, result.structured_content
