"""The AuthZEN decision endpoint as an ASGI application (Starlette), over one guard.

Routes (OpenID AuthZEN Authorization API 1.0): ``POST /access/v1/evaluation``, ``POST
/access/v1/evaluations`` and ``GET /.well-known/authzen-configuration``. Every decision route needs
``Authorization: Bearer <token>``; the token is compared in constant time. A body is read with a
cap (413 beyond :data:`~paybill.authzen.model.MAX_BODY_BYTES`, before JSON parsing), must be JSON
(415 otherwise) and an AuthZEN request (400 with the path of what is wrong). Anything unexpected
while deciding is a denial (``engine.error``) or a 500 without details: the endpoint fails closed.
Over a :class:`~paybill.authzen.live.LiveGuard` (``paybill authzen``) each request is decided by the
bundle the folder holds now; while that folder is refused, every decision request is a 503
(``bundle_refused``, with the reason), never an answer of the bundle it replaced.

Why Starlette: a small, well-kept ASGI toolkit that ``uvicorn`` serves and ``paybill serve`` (the
MCP server, also Starlette-based through the official ``mcp`` SDK) can mount as it is.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paybill.authzen.live import LiveGuard, Unavailable
from paybill.authzen.model import (
    MAX_BODY_BYTES,
    MAX_EVALUATIONS,
    BadRequest,
    Question,
    merge,
    parse,
    semantic,
)
from paybill.contract.bundle import V_ENGINE, V_INPUT
from paybill.guard.decision import Decision
from paybill.guard.guard import GuardUsageError

if TYPE_CHECKING:
    from paybill.guard.guard import Guard
    from paybill.guard.shadow import ShadowGuard

EVALUATION_PATH = "/access/v1/evaluation"
EVALUATIONS_PATH = "/access/v1/evaluations"
METADATA_PATH = "/.well-known/authzen-configuration"
V_SUBJECT = "subject.unknown-agent"
"""The subject is not the agent this endpoint's bundle belongs to."""
_REQUEST_ID = "x-request-id"


class _TooLarge(Exception):
    pass


def _json(status: int, body: dict[str, Any], request_id: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if request_id:
        extra["X-Request-ID"] = request_id
    return Response(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), status_code=status,
                    media_type="application/json", headers=extra)


def _error(status: int, code: str, message: str, request_id: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"error": code, "error_description": message}, request_id, headers)


def _deny(violation: str, message: str, revision: str) -> dict[str, Any]:
    return {"decision": False, "context": {"revision": revision, "reasons": [], "violations": [violation],
                                           "reason_admin": {"en": message}}}


def _answer(decision: Decision) -> dict[str, Any]:
    context: dict[str, Any] = {"revision": decision.revision, **decision.to_dict()}
    context.pop("allowed")
    context["reason_admin"] = {"en": decision.summary()}
    return {"decision": decision.allowed, "context": context}


def decide(guard: Guard | ShadowGuard, question: Question) -> dict[str, Any]:
    """The AuthZEN answer to one question (never raises: any failure is a denial with a reason)."""
    revision = guard.revision
    if question.agent != guard.agent:
        return _deny(V_SUBJECT, f"this endpoint decides for agent '{guard.agent}', not {question.agent!r}", revision)
    try:
        decision = guard.evaluate(tenant=question.tenant, workflow=question.workflow, step=question.step,
                                  action=question.action, resource=question.resource, columns=question.columns,
                                  rows=question.rows, resource_tenant=question.resource_tenant)
    except GuardUsageError as exc:
        return _deny(V_INPUT, str(exc), revision)
    except Exception as exc:  # fail closed: an evaluation that breaks is a denial
        return _deny(V_ENGINE, f"the decision could not be made ({type(exc).__name__})", revision)
    return _answer(decision)


class _Endpoint:
    def __init__(self, guard: Guard | ShadowGuard | LiveGuard, token: str, base_url: str | None,
                 max_body: int) -> None:
        self.guard = guard
        self.token = token.encode("utf-8")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_body = max_body

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return False
        return hmac.compare_digest(credential.strip().encode("utf-8", "surrogatepass"), self.token)

    async def _body(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise _TooLarge
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self.max_body:
                raise _TooLarge
        try:
            return orjson.loads(bytes(data))
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from None

    async def handle(self, request: Request, batch: bool) -> Response:
        request_id = request.headers.get(_REQUEST_ID)
        request_id = request_id[:128] if request_id else None
        if not self._authorized(request):
            return _error(401, "unauthorized", "a bearer token is required", request_id,
                          {"WWW-Authenticate": 'Bearer realm="paybill-authzen"'})
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return _error(415, "unsupported_media_type", "the body must be application/json", request_id)
        try:
            body = await self._body(request)
            guard = self._decider()
            result = self._batch(guard, body) if batch else decide(guard, parse(body))
        except Unavailable as exc:  # the deployed bundle was refused: no decision, and why (fail closed)
            return _error(503, "bundle_refused", str(exc), request_id)
        except _TooLarge:
            return _error(413, "request_too_large", f"the body is larger than {self.max_body} bytes", request_id)
        except BadRequest as exc:
            return _error(400, "invalid_request", str(exc), request_id)
        except Exception as exc:  # never a stack trace, never a decision
            return _error(500, "internal_error", f"the request could not be decided ({type(exc).__name__})",
                          request_id)
        return _json(200, result, request_id)

    def _decider(self) -> Guard | ShadowGuard:
        """What decides this request: the bundle its folder holds now (:class:`LiveGuard`, which raises
        :class:`Unavailable` while that folder is refused), or the fixed guard the app was built with.
        One request is decided by one revision, a batch included."""
        return self.guard.current() if isinstance(self.guard, LiveGuard) else self.guard

    def _batch(self, guard: Guard | ShadowGuard, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        items = body.get("evaluations")
        if items is None or items == []:
            return decide(guard, parse(body))  # AuthZEN: no evaluations means one evaluation
        if not isinstance(items, list):
            raise BadRequest("evaluations must be a list")
        if len(items) > MAX_EVALUATIONS:
            raise BadRequest(f"evaluations holds {len(items)} items; at most {MAX_EVALUATIONS} are accepted")
        how = semantic(body)
        questions = [parse(merge(body, item, i), f"evaluations[{i}].") for i, item in enumerate(items)]
        answers = []
        for question in questions:
            answer = decide(guard, question)
            answers.append(answer)
            if (how == "deny_on_first_deny" and not answer["decision"]) or \
                    (how == "permit_on_first_permit" and answer["decision"]):
                break
        return {"evaluations": answers}

    async def evaluation(self, request: Request) -> Response:
        return await self.handle(request, batch=False)

    async def evaluations(self, request: Request) -> Response:
        return await self.handle(request, batch=True)

    async def metadata(self, request: Request) -> Response:
        base = self.base_url or str(request.base_url).rstrip("/")
        return _json(200, {"policy_decision_point": base,
                           "access_evaluation_endpoint": base + EVALUATION_PATH,
                           "access_evaluations_endpoint": base + EVALUATIONS_PATH})


def create_app(guard: Guard | ShadowGuard | LiveGuard, *, token: str, base_url: str | None = None,
               max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The AuthZEN endpoint over ``guard`` (a :class:`~paybill.guard.Guard`, a shadowed one, or a
    :class:`~paybill.authzen.live.LiveGuard` following its bundle folder: ``paybill authzen``).

    ``token`` is the bearer token every decision request must carry (an empty token is refused:
    an endpoint without authentication is never built). ``base_url`` is the
    ``policy_decision_point`` the metadata document announces (default: the URL it was asked on).
    """
    if not isinstance(token, str) or not token.strip():
        raise ValueError("an AuthZEN endpoint needs a non-empty bearer token")
    endpoint = _Endpoint(guard, token.strip(), base_url, max_body)
    return Starlette(routes=[
        Route(EVALUATION_PATH, endpoint.evaluation, methods=["POST"]),
        Route(EVALUATIONS_PATH, endpoint.evaluations, methods=["POST"]),
        Route(METADATA_PATH, endpoint.metadata, methods=["GET"]),
    ])
