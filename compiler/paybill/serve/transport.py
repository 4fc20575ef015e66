"""Transports: stdio (the client starts the server) and streamable HTTP (a long-running service).

HTTP is stateless streamable HTTP with JSON responses: no MCP session lives in the server (runs are
explicit ids in PostgreSQL), so any replica answers any request and a request costs one POST and
one JSON body. In front of the SDK's app sits :class:`Gate`, which refuses before any parsing:

* a missing or wrong bearer token (401; compared in constant time);
* a body larger than the limit (413, from ``Content-Length``; the SDK also stops a chunked body);
* more requests than the rate allows (429 with ``Retry-After``; one token bucket per server);
* a ``GET`` of ``/mcp`` (405: a stateless server has nothing to stream; the SDK held such a stream open
  for ever).

The only path the token does not guard is the AuthZEN metadata document (``--authzen``): a
``GET`` of ``/.well-known/authzen-configuration`` lists endpoint URLs and nothing else, and gateways
read it to discover the endpoint (as with ``paybill authzen``). It is still rate-limited.

Shutdown (SIGTERM, SIGINT): uvicorn stops accepting, lets requests in flight finish (each call's
transaction ends with it: the call runs inside ``with conn.transaction()``), then the pool closes.
"""

from __future__ import annotations

import asyncio
import hmac
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from paybill.serve.metrics import CONTENT_TYPE, ServeMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MCP_PATH = "/mcp"
METRICS_PATH = "/metrics"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PUBLIC = frozenset({("GET", "/.well-known/authzen-configuration")})
"""(method, path) pairs served without the bearer token: the AuthZEN metadata document only."""


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = 1_000_000
    rate_per_second: float = 2000.0
    burst: int = 200


class TokenBucket:
    """A thread-safe token bucket: ``take()`` is False when the rate is exceeded."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Gate:
    """ASGI middleware: bearer token, body size and rate, checked before the MCP app sees a request."""

    def __init__(self, app: ASGIApp, token: str, limits: HttpLimits, public: frozenset[tuple[str, str]] = frozenset(),
                 *, mcp: ASGIApp | None = None) -> None:
        """``mcp``: the SDK's session manager app, which requests to exactly ``/mcp`` reach directly.

        Why directly: the Starlette app around it (error and exception middleware, the router, the
        route) adds nothing to an MCP POST but a few percent of its CPU; uvicorn still turns an
        exception into a 500. Every other path (``/metrics``, AuthZEN, a trailing slash) goes
        through the Starlette app, which also runs the session manager's lifespan.
        """
        self.app = app
        self.mcp = mcp or app
        self.expected = f"Bearer {token}".encode()
        self.limits = limits
        self.bucket = TokenBucket(limits.rate_per_second, limits.burst)
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"")
        public = (scope.get("method"), scope.get("path")) in self.public
        if not hmac.compare_digest(given, self.expected) and not public:
            await _reply(send, 401, b'{"error":"unauthorized","message":"a valid bearer token is required"}',
                         [(b"www-authenticate", b'Bearer realm="paybill"')])
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limits.max_body_bytes):
            await _reply(send, 413, b'{"error":"too_large","message":"request body exceeds the server limit"}')
            return
        if not self.bucket.take():
            await _reply(send, 429, b'{"error":"rate_limited","message":"too many requests"}', [(b"retry-after", b"1")])
            return
        path = scope.get("path")
        if path == MCP_PATH and scope.get("method") == "GET":
            # The SDK would open a standalone SSE stream and hold it for ever, though a stateless server
            # never has anything to send on it: each GET kept a connection and a task, without end. The
            # MCP specification's answer for a server that offers no such stream is 405.
            await _reply(send, 405, b'{"error":"method_not_allowed","message":"this server offers no SSE stream: '
                         b'POST each JSON-RPC request to /mcp"}', [(b"allow", b"POST")])
            return
        await (self.mcp if path == MCP_PATH else self.app)(scope, receive, send)


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def http_app(server: Server[Any], metrics: ServeMetrics, token: str, host: str, limits: HttpLimits, *,
             authzen: Starlette | None = None) -> ASGIApp:
    """The streamable HTTP app (stateless, JSON responses), ``/metrics`` beside it, behind :class:`Gate`.

    ``authzen``: the AuthZEN app (:func:`paybill.authzen.create_app`, built with the same token);
    its routes are mounted beside ``/mcp`` (it checks the token again itself).
    """

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    security = None
    if host in LOOPBACK:  # the SDK's DNS-rebinding protection: a browser page cannot reach a local server
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                             allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                                             allowed_origins=["http://127.0.0.1:*", "http://localhost:*",
                                                              "http://[::1]:*"])
    routes: list[BaseRoute] = [Route(METRICS_PATH, metrics_endpoint)]
    if authzen is not None:
        routes.extend(authzen.routes)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, json_response=True, stateless_http=True,
                                     max_request_body_size=limits.max_body_bytes, host=host,
                                     transport_security=security,
                                     custom_starlette_routes=routes)  # type: ignore[arg-type]
    return Gate(app, token, limits, PUBLIC if authzen is not None else frozenset(),
                mcp=server.session_manager.handle_request)


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """The listening socket, bound before uvicorn starts, so port 0 can be reported exactly.

    ``reuse_port``: ``SO_REUSEPORT``, so that more sockets can listen on the same address
    (:func:`bind_workers`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit it: a response's head and body are separate writes, and with Nagle
    # the body waits for the client's delayed ACK of the head (40 ms per call on kept-alive connections).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def bind_workers(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per ``--workers`` worker, all on one address (``SO_REUSEPORT``).

    Why not one socket shared by all: every worker's event loop wakes when a connection waits, and
    the first to run accepts every connection pending then - with clients that keep their
    connections (MCP agents, the benchmark's 16), one worker ended up with nearly all of them and
    the other idle (measured: 4.2 s of CPU against 0.01). With a socket each, the kernel spreads
    new connections over the sockets by a hash of their addresses, whatever each worker is doing.
    Where ``SO_REUSEPORT`` is missing, the workers share one socket.

    The address must be free: ``SO_REUSEPORT`` would also let these sockets join another server's
    on the same port (another ``--workers`` server of the same user, say an old one still running),
    and the two would then split the connections silently. So the address is first bound without
    it - which fails while any socket listens there - and released just before the workers' sockets
    take it (a process that takes the port in between makes this fail as well: PB1305).
    """
    if count == 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [bind(host, port)]
    probe = bind(host, port)
    bound = probe.getsockname()[1]  # port 0 picked one: the workers' sockets take that one
    probe.close()
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(bind(host, bound, reuse_port=True))
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def announce(sock: socket.socket, note: str = "") -> None:
    """Print the address clients connect to (the port too when 0 picked it) on standard error."""
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    print(f"paybill serve: listening on http://{url_host}:{port}{MCP_PATH}{note}", file=sys.stderr, flush=True)


READ_TIMEOUT_SECONDS = 30.0
"""Default for ``paybill serve --read-timeout``: the time a client has to send one whole request."""


def read_deadline_protocol(seconds: float) -> Any:
    """uvicorn's httptools protocol, closing a connection that has not sent a whole request in ``seconds``.

    Why: uvicorn bounds the idle time between requests (keep-alive), but not the time a request takes
    to arrive - any byte cancels its keep-alive timer - so a client that sends a request's headers or
    body a byte at a time (or half a request, then nothing) holds its connection, a file descriptor
    and a parser for ever; enough of them and the server stops accepting. The deadline starts when
    the server waits for a request (the connection opened, or the previous response was sent) and
    ends when the request is complete; the tool call itself is not limited by it. When it passes,
    the connection is closed, after a ``408`` when part of a request had arrived (an idle kept-alive
    connection is closed silently, as its keep-alive timeout would).

    Returns ``"auto"`` (no deadline) when httptools is not installed (it is a dependency of paybill).
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "auto"

    class ReadDeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _started = False
        """Some byte of the awaited request arrived (else the connection is only idle)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._started = True
            super().data_received(data)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._started = False
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self._started and (self.cycle is None or not self.cycle.response_started):
                self.transport.write(REQUEST_TIMEOUT)  # an idle connection is closed without a word
            self.transport.close()

    return ReadDeadlineProtocol


_TIMEOUT_BODY = b'{"error":"request_timeout","message":"the whole request did not arrive in time"}'
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                   b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


def serve_http(app: ASGIApp, sock: socket.socket, *, graceful_seconds: int = 10, print_address: bool = True,
               read_timeout: float = READ_TIMEOUT_SECONDS) -> None:
    """Serve until SIGTERM or SIGINT; requests in flight get ``graceful_seconds`` to finish.

    ``print_address``: False in a ``--workers`` worker (the parent printed it once for all).
    ``read_timeout``: seconds a client has to send one whole request (:func:`read_deadline_protocol`)."""
    # loop "auto": uvloop (a dependency of paybill) when installed - the event loop's HTTP parsing and
    # scheduling are a large part of a call's CPU - else asyncio. HTTP: httptools (also a dependency)
    # with a deadline for each request to arrive.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=graceful_seconds,
                            access_log=False, server_header=False, date_header=False, loop="auto",
                            http=read_deadline_protocol(read_timeout))
    server = uvicorn.Server(config)
    if print_address:
        announce(sock)
    for signum in (signal.SIGTERM, signal.SIGINT):
        # uvicorn shuts down gracefully, then raises the signal again: end with exit 0 (and the
        # caller's cleanup, which closes the pool) instead of dying by the default handler.
        signal.signal(signum, _clean_exit)
    server.run(sockets=[sock])


def _clean_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout until it closes them."""

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
