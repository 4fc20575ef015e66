"""``paybill billing serve``: the Stripe webhook receiver (loopback by default).

A delivery is answered as soon as it is *verified and stored*: 200 for a stored (or already stored)
event, 400 for an unsigned, mis-signed or stale one (Stripe shows the reason in its dashboard), 413
for an oversized body, 408 for a body not sent within :data:`READ_TIMEOUT`, 503 when the store cannot
take it (Stripe retries). Processing runs in one
worker thread that wakes on every delivery and every ``tick`` seconds (the dunning clock), and each
pass holds the store's lock, so concurrent deliveries are never processed twice and never lost: a
delivery that arrives during a pass is picked up by the next one.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from paybill.billing.engine import PassReport, Proposed, run_pass
from paybill.billing.events import MAX_EVENT_BYTES
from paybill.billing.proposal import RepoContext
from paybill.billing.store import Store
from paybill.billing.verify import DEFAULT_TOLERANCE, Rejected, verify

READ_TIMEOUT = 30.0
"""Seconds a delivery's socket may stay silent (request line, headers, body) before it is closed."""


class Receiver:
    """The HTTP server plus its processing worker; ``start``/``stop`` for tests and the command."""

    def __init__(self, store: Store, ctx_factory: Callable[[], RepoContext], secret: str, *,
                 host: str = "127.0.0.1", port: int = 0, tolerance: int = DEFAULT_TOLERANCE,
                 tick: float = 3600.0, clock: Callable[[], float] = time.time,
                 on_report: Callable[[PassReport], None] | None = None,
                 on_proposal: Callable[[Proposed], None] | None = None,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.on_proposal = on_proposal
        self.read_timeout = read_timeout
        self.store = store
        self.ctx_factory = ctx_factory
        self.secret = secret
        self.tolerance = tolerance
        self.tick = tick
        self.clock = clock
        self.on_report = on_report
        self.received = 0
        self.passed = -1  # a first pass at start: events kept by an earlier run
        self.passing = False
        self.errors: list[str] = []
        self._wake = threading.Condition()
        self._stop = False
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "paybill-billing"
            sys_version = ""
            # A client that sends headers and then too little of its body (or nothing) held its thread
            # forever: enough of them exhaust the receiver. The socket times out instead (headers too).
            timeout = receiver.read_timeout

            def log_message(self, format: str, *args) -> None:
                return  # one line per pass is logged instead; request lines would repeat Stripe's dashboard

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body, sort_keys=True).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(405, {"error": "POST Stripe events here"})

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._send(400, {"error": "Content-Length required"})
                    return
                if length < 0 or length > MAX_EVENT_BYTES:
                    self._send(413, {"error": f"body over {MAX_EVENT_BYTES} bytes"})
                    return
                try:
                    body = self.rfile.read(length)
                except OSError:  # TimeoutError included: a slow or vanished client; Stripe sends at once
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self._send(408, {"error": f"body not received within {receiver.read_timeout:g} s"})
                    return
                if len(body) < length:
                    self._send(400, {"error": f"body shorter than its Content-Length ({len(body)} < {length})"})
                    return
                try:
                    event = verify(body, self.headers.get("Stripe-Signature"), receiver.secret, receiver.tolerance)
                except Rejected as error:
                    self._send(400, {"error": str(error)})
                    return
                try:
                    receiver.store.enqueue([event])
                except Exception as error:  # the store is down: Stripe retries a 5xx
                    receiver.errors.append(f"store: {type(error).__name__}: {error}")
                    # the operator sees why Stripe's dashboard shows failed deliveries (the 503 does not say)
                    print(f"paybill billing: event {event.id} answered 503, the store did not take it "
                          f"(Stripe retries it): {type(error).__name__}: {error}", file=sys.stderr)
                    self._send(503, {"error": "could not store the event; retry"})
                    return
                receiver.delivered()
                self._send(200, {"received": event.id})

        return Handler

    def delivered(self) -> None:
        with self._wake:
            self.received += 1
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                if not self._stop and self.passed == self.received:
                    self._wake.wait(timeout=self.tick)
                if self._stop:
                    return
                target = self.received
                self.passing = True
            try:
                report = run_pass(self.store, self.ctx_factory, int(self.clock()), on_proposal=self.on_proposal)
                if self.on_report is not None:
                    self.on_report(report)
            except Exception as error:  # keep serving; the events stay pending for the next pass
                self.errors.append(f"pass: {type(error).__name__}: {error}")
                print(f"paybill billing: pass failed: {type(error).__name__}: {error}", file=sys.stderr)
            with self._wake:
                self.passed = target
                self.passing = False
                self._wake.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every delivery so far has been through a pass (tests, graceful stop)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self.passing or self.passed != self.received:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(timeout=left)
        return True

    def start(self) -> None:
        for target in (self.httpd.serve_forever, self._work):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=60)
