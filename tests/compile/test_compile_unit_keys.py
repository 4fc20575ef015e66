"""A stack's unit key is the same whether its documents' parts come from the build's memo or not.

:func:`paybill.emit.terraform.emitter.build_units` memoizes each document's part of the key by
identity (a plan's or a cloud's is shared by thousands of tenants); the key must not change by it,
and a document whose content is unknown must still make its stacks uncacheable.
"""

from __future__ import annotations

from compile_support import SPECS

import paybill.emit.terraform.emitter as terraform_emitter
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_repository
from paybill.resolve import resolve_model
from paybill.validate import validate_documents


def test_memoized_keys_equal_the_plain_ones() -> None:
    sink = DiagnosticSink()
    model = resolve_model(validate_documents(load_repository(SPECS, sink).documents, sink))
    texts: dict[int, tuple[object, bytes | None]] = {}
    units = list(model.units)
    assert any(unit.kind == "tenant" for unit in units)
    plain = [terraform_emitter._unit_key(unit, model) for unit in units]
    assert None not in plain and len(set(plain)) == len(plain)
    assert [terraform_emitter._unit_key(unit, model, texts) for unit in units] == plain
    # a plan whose content is unknown: none of its tenants' stacks can be keyed, memo or not
    tenant = next(t for t in model.tenants.values() if t.unit is not None)
    tenant.plan.document.text_hash = ""
    on_plan = [unit for unit in units if unit.kind == "tenant" and model.tenants[unit.owner.name].plan is tenant.plan]
    assert on_plan
    assert {terraform_emitter._unit_key(unit, model) for unit in on_plan} == {None}
    assert {terraform_emitter._unit_key(unit, model, {}) for unit in on_plan} == {None}
