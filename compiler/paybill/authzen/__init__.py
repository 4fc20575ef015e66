"""paybill.authzen: an OpenID AuthZEN Authorization API 1.0 decision endpoint over an agent's bundle.

Runtime code (it imports the guard, never the compiler). ``create_app(guard, token=...)`` returns
an ASGI application; ``paybill authzen`` serves it with uvicorn, and ``paybill serve --authzen``
mounts it next to the MCP server. docs/authzen.md says which parts of the API are supported.
"""

from paybill.authzen.app import create_app, decide
from paybill.authzen.model import BadRequest, Question, parse

__all__ = ["BadRequest", "Question", "create_app", "decide", "parse"]
