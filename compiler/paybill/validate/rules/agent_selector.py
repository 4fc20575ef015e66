"""PB0309 (warning): an agent's label selector that matches no tenant is probably a typo."""

from paybill.models.agent import SelectorScope
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.scope import agent_scope


def check(index: SpecIndex, report: Reporter) -> None:
    if any(kind == "Tenant" for kind, _ in index.broken):
        # A tenant that failed its schema may be the one the selector matches: its error is the root
        # cause, reported already; "matches no tenant" would send the reader after the wrong file.
        return
    for doc in index.of_kind("Agent"):
        scope = doc.model.spec.tenant_scope
        if not isinstance(scope, SelectorScope):
            continue
        if not agent_scope(index, doc):
            labels = sorted({f"{k}={v}" for t in index.of_kind("Tenant") for k, v in t.model.metadata.labels.items()})
            report(doc, ("spec", "tenantScope", "selector"), "label selector matches no tenant",
                   f"tenant labels in use: {', '.join(labels[:10])}" if labels else None)


RULE = Rule("PB0309", "agent label selector matches no tenant", check, warning=True)
