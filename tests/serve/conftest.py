"""The serve tests' fixtures; their code lives in ``serve_support`` (a name no other test folder uses),
so test modules import helpers from there and never from ``conftest``, which is ambiguous when pytest
collects another folder's conftest first (``pytest tests/serve tests/authzen``)."""

from serve_support import http_server, serve_world

__all__ = ["http_server", "serve_world"]
