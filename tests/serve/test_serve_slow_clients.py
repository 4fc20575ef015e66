"""Slow HTTP clients against `paybill serve --transport http`: a client gets ``--read-timeout`` seconds
to send each whole request. One that stalls in its headers or body, or trickles them a byte at a
time, gets 408 and loses its connection (it held a socket and a parser for ever before); an idle
connection is closed without a word; a client that sends its requests in time, on a kept-alive
connection too, is served as before, and the server answers others all along."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from serve_support import HttpServer, ServeWorld, start_http

pytestmark = pytest.mark.postgres

LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'


@pytest.fixture
def server(serve_world: ServeWorld, tmp_path: Path) -> Iterator[HttpServer]:
    started = start_http(serve_world, tmp_path, extra=("--read-timeout", "1.5"), log=False)
    yield started
    assert started.stop() == 0, "".join(started.stderr)


def _head(server: HttpServer, length: int) -> bytes:
    host = urlsplit(server.url).netloc
    return (f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.token}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _answer(sock: socket.socket, within: float) -> bytes:
    """What the server sent before it closed the connection (``(no answer)`` if it did not in ``within`` s)."""
    sock.settimeout(within)
    chunks = []
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return b"(no answer)"
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_client_too_slow_to_send_its_request_gets_408_and_loses_the_connection(server: HttpServer) -> None:
    address = urlsplit(server.url)
    connect = (address.hostname or "127.0.0.1", address.port or 80)
    head = _head(server, len(LIST))
    body_stalled = socket.create_connection(connect)
    body_stalled.sendall(head + LIST[:10])
    head_stalled = socket.create_connection(connect)
    head_stalled.sendall(head[:20])
    idle = socket.create_connection(connect)
    trickle = socket.create_connection(connect)
    started = time.monotonic()
    for i in range(len(head) // 4):  # about 4 s of a byte every 0.1 s: past the deadline, never done
        try:
            trickle.sendall(head[i:i + 1])
        except OSError:
            break
        time.sleep(0.1)
        if i == 5:  # meanwhile another client is served at once
            answered = httpx.post(server.url, content=LIST, timeout=10, headers={
                "Authorization": f"Bearer {server.token}", "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream"})
            assert answered.status_code == 200 and "start_run" in answered.text
    for sock in (body_stalled, head_stalled, trickle):
        sent = _answer(sock, 10)
        assert sent.startswith(b"HTTP/1.1 408 ") and b'"error":"request_timeout"' in sent, sent
    sent = _answer(idle, 10)
    assert sent == b"", sent  # idle: closed without an unasked-for response
    assert time.monotonic() - started < 10
    for sock in (body_stalled, head_stalled, idle, trickle):
        sock.close()


def test_requests_sent_in_time_are_served_on_a_kept_alive_connection(server: HttpServer) -> None:
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    with httpx.Client(headers=headers, timeout=10) as client:
        for _ in range(3):
            response = client.post(server.url, content=LIST)
            assert response.status_code == 200 and "start_run" in response.text
            time.sleep(1.0)  # between requests, within the deadline


def test_a_get_of_mcp_is_405_not_a_stream_held_open_for_ever(server: HttpServer) -> None:
    """A stateless server never sends anything on a standalone SSE stream; the SDK opened one for each
    GET and held it (and its connection) without end. It is 405, as the MCP specification says for a
    server that offers none; the token is still checked first."""
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "text/event-stream"}
    started = time.monotonic()
    response = httpx.get(server.url, headers=headers, timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
    assert "POST" in response.json()["message"] and time.monotonic() - started < 5
    assert httpx.get(server.url, headers={"Accept": "text/event-stream"}, timeout=10).status_code == 401
