"""The AuthZEN endpoint over real HTTP (uvicorn on loopback, httpx), with bundles compiled from the specs."""

from __future__ import annotations

import httpx
import orjson
import pytest
from authzen_support import TOKEN

from paybill.authzen import create_app
from paybill.authzen.model import MAX_BODY_BYTES, MAX_EVALUATIONS
from paybill.guard import Guard

AUTH = {"Authorization": f"Bearer {TOKEN}"}
INVOICES = "specs/agents/billing-agent.yaml#permissions.tables.invoices.read"


def question(**overrides):
    body = {
        "subject": {"type": "agent", "id": "billing-agent"},
        "action": {"name": "read"},
        "resource": {"type": "table", "id": "invoices", "properties": {"columns": ["id", "status"], "rows": 5}},
        "context": {"tenant": "acme-corp", "workflow": "dunning", "step": "list-invoices", "run": "r-1"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def url(bundles, server):
    guard = Guard.load(bundles / "billing-agent")
    return server(create_app(guard, token=TOKEN)).url


def post(url, path, body, headers=AUTH):
    return httpx.post(url + path, content=orjson.dumps(body), headers={**headers, "Content-Type": "application/json"})


def test_single_evaluation_allows_and_denies_with_reasons(url, bundles):
    allowed = post(url, "/access/v1/evaluation", question())
    assert allowed.status_code == 200
    assert allowed.json()["decision"] is True
    assert allowed.json()["context"]["reasons"] == [INVOICES]
    assert allowed.json()["context"]["revision"] == Guard.load(bundles / "billing-agent").revision
    pii = question(resource={"type": "table", "id": "invoices", "properties": {"columns": ["id", "secret"]}})
    denied = post(url, "/access/v1/evaluation", pii).json()
    assert denied["decision"] is False and denied["context"]["violations"] == ["acl.column-not-granted"]
    assert denied["context"]["deniedColumns"] == ["secret"]
    wrong_step = question(context={"tenant": "acme-corp", "workflow": "dunning", "step": "load-customer"})
    assert post(url, "/access/v1/evaluation", wrong_step).json()["context"]["violations"] == ["workflow.step-action"]


def test_cross_tenant_limit_advance_and_unknown_names(url):
    other = question(resource={"type": "table", "id": "invoices",
                               "properties": {"columns": ["id"], "tenant": "globex"}})
    assert post(url, "/access/v1/evaluation", other).json()["context"]["violations"] == ["tenant.cross-tenant"]
    huge = question(resource={"type": "table", "id": "invoices", "properties": {"columns": ["id"], "rows": 6000}})
    assert post(url, "/access/v1/evaluation", huge).json()["context"]["violations"] == ["limit.maxRowsRead"]
    advance = question(action={"name": "advance"}, resource={"type": "step", "id": "load-customer"})
    assert post(url, "/access/v1/evaluation", advance).json()["decision"] is True
    skip = question(action={"name": "advance"}, resource={"type": "step", "id": "mark-overdue"})
    assert post(url, "/access/v1/evaluation", skip).json()["context"]["violations"] == ["workflow.order"]
    for context, violation in (({"tenant": "acme-corp", "workflow": "nope", "step": "x"}, "input.invalid"),
                               ({"tenant": "acme-corp", "workflow": "dunning", "step": "x"}, "input.invalid"),
                               ({"tenant": "Not A Tenant", "workflow": "dunning", "step": "list-invoices"},
                                "input.invalid")):
        answer = post(url, "/access/v1/evaluation", question(context=context)).json()
        assert answer["decision"] is False and answer["context"]["violations"] == [violation], context
    stranger = post(url, "/access/v1/evaluation", question(subject={"type": "agent", "id": "ops-agent"})).json()
    assert stranger["decision"] is False and stranger["context"]["violations"] == ["subject.unknown-agent"]


def test_batch_semantics(url):
    ok = {"resource": {"type": "table", "id": "invoices", "properties": {"columns": ["id"]}}}
    bad = {"resource": {"type": "table", "id": "invoices", "properties": {"columns": ["secret"]}}}
    base = question()
    body = {**base, "evaluations": [ok, bad, ok]}
    answers = post(url, "/access/v1/evaluations", body).json()["evaluations"]
    assert [a["decision"] for a in answers] == [True, False, True]
    first_deny = post(url, "/access/v1/evaluations",
                      {**body, "options": {"evaluations_semantic": "deny_on_first_deny"}})
    assert [a["decision"] for a in first_deny.json()["evaluations"]] == [True, False]
    first_permit = {**base, "evaluations": [bad, ok, bad],
                    "options": {"evaluations_semantic": "permit_on_first_permit"}}
    assert [a["decision"] for a in post(url, "/access/v1/evaluations", first_permit).json()["evaluations"]] == [
        False, True]
    # Per-item overrides of subject, action and context; no evaluations means one evaluation.
    override = {**base, "evaluations": [{"context": {"tenant": "acme-corp", "workflow": "dunning",
                                                     "step": "load-customer"},
                                         "resource": {"type": "table", "id": "customers"}}]}
    assert post(url, "/access/v1/evaluations", override).json()["evaluations"][0]["decision"] is True
    assert post(url, "/access/v1/evaluations", base).json()["decision"] is True
    assert post(url, "/access/v1/evaluations", {**base, "evaluations": []}).json()["decision"] is True


@pytest.mark.parametrize(("body", "fragment"), [
    ([], "must be a JSON object"),
    ({}, "subject must be a JSON object"),
    ({**question(), "subject": {"type": "user", "id": "x"}}, "subject.type must be \"agent\""),
    ({**question(), "action": {"name": "drop"}}, "action.name must be one of"),
    ({**question(), "action": {"name": 3}}, "action.name must be a non-empty string"),
    ({**question(), "resource": {"type": "step", "id": "invoices"}}, "resource.type must be \"table\""),
    ({**question(), "resource": {"type": "table", "id": "invoices", "properties": {"columns": "id"}}},
     "columns must be a list"),
    ({**question(), "resource": {"type": "table", "id": "invoices", "properties": {"columns": [1]}}},
     "columns[0]"),
    ({**question(), "resource": {"type": "table", "id": "invoices", "properties": {"rows": -1}}}, "rows must be"),
    ({**question(), "resource": {"type": "table", "id": "invoices", "properties": {"rows": True}}}, "rows must be"),
    ({**question(), "context": None}, "context.tenant"),
    ({**question(), "context": {"tenant": "acme-corp", "workflow": "dunning", "step": "x" * 300}}, "context.step"),
    ({**question(), "context": {"tenant": "acme-corp", "workflow": "dunning", "step": "s", "run": 5}}, "context.run"),
])
def test_malformed_single_requests_are_400_with_a_reason(url, body, fragment):
    response = post(url, "/access/v1/evaluation", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert fragment in response.json()["error_description"]


def test_malformed_batches_and_bodies(url):
    base = question()
    cases = [({**base, "evaluations": "x"}, "evaluations must be a list"),
             ({**base, "evaluations": [3]}, "evaluations[0] must be a JSON object"),
             ({**base, "evaluations": [{"action": {"name": "nope"}}]}, "evaluations[0].action.name"),
             ({**base, "evaluations": [{}], "options": {"evaluations_semantic": "all"}}, "evaluations_semantic"),
             ({**base, "evaluations": [{}], "options": []}, "options must be a JSON object"),
             ({**base, "evaluations": [{}] * (MAX_EVALUATIONS + 1)}, "at most"),
             ([1], "must be a JSON object")]
    for body, fragment in cases:
        response = post(url, "/access/v1/evaluations", body)
        assert response.status_code == 400 and fragment in response.json()["error_description"], (body, response.text)
    not_json = httpx.post(url + "/access/v1/evaluation", content=b"{nope", headers={**AUTH,
                                                                                   "Content-Type": "application/json"})
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error_description"]
    text = httpx.post(url + "/access/v1/evaluation", content=b"{}", headers={**AUTH, "Content-Type": "text/plain"})
    assert text.status_code == 415


def test_bearer_token_is_required(url):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"}):
        response = post(url, "/access/v1/evaluation", question(), headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "decision" not in response.json()
    assert post(url, "/access/v1/evaluations", question(), headers={}).status_code == 401


def test_request_size_is_bounded(url):
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = post(url, "/access/v1/evaluation", {**question(), "pad": padding})
    assert response.status_code == 413

    def chunks():
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    streamed = httpx.post(url + "/access/v1/evaluation", content=chunks(),
                          headers={**AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413  # chunked, no Content-Length: the cap holds while reading


def test_metadata_and_request_id(url, bundles, server):
    meta = httpx.get(url + "/.well-known/authzen-configuration").json()
    assert meta == {"policy_decision_point": url, "access_evaluation_endpoint": url + "/access/v1/evaluation",
                    "access_evaluations_endpoint": url + "/access/v1/evaluations"}
    response = post(url, "/access/v1/evaluation", question(), headers={**AUTH, "X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    fixed = server(create_app(Guard.load(bundles / "billing-agent"), token=TOKEN, base_url="https://pdp.example/"))
    assert httpx.get(fixed.url + "/.well-known/authzen-configuration").json()["policy_decision_point"] == \
        "https://pdp.example"
    assert httpx.get(url + "/access/v1/evaluation").status_code == 405


def test_an_evaluation_failure_denies(bundles, server):
    guard = Guard.load(bundles / "billing-agent")

    def broken(*args, **kwargs):
        raise RuntimeError("cedar exploded")

    guard.decider.decide = broken
    url = server(create_app(guard, token=TOKEN)).url
    answer = post(url, "/access/v1/evaluation", question()).json()
    assert answer["decision"] is False and answer["context"]["violations"] == ["engine.error"]
    assert "exploded" not in answer["context"]["reason_admin"]["en"]


def test_no_endpoint_without_a_token(bundles):
    guard = Guard.load(bundles / "billing-agent")
    for token in ("", "   ", None):
        with pytest.raises(ValueError):
            create_app(guard, token=token)
