"""One billing pass: merge the inbox, process pending events in order, run the dunning clock, propose.

A pass holds the store's lock from start to end, so passes never overlap (threads of one receiver,
or several receivers on one PostgreSQL). Per subscription, events are applied in their own creation
order; an event older than what was already applied is stale and ignored. An event that cannot be
mapped (unknown customer or price, a customer on two tenants, an onboarding rule that does not
decide, a proposal change control refuses) is *kept*: it stays pending with its diagnostic and is
tried again on the next pass, so nothing is lost. Progress is flushed after every proposal, so a
crash never proposes the same change twice.
"""

from __future__ import annotations

import copy
import posixpath
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yaml

from paybill.billing import decide
from paybill.billing.events import CUSTOMER_TYPES, BillingEvent
from paybill.billing.onboard import ONBOARDED_FROM, build_tenant, render
from paybill.billing.policy import BillingFacts, TenantView, read_facts
from paybill.billing.proposal import BillingProposal, RepoContext, propose_files
from paybill.billing.store import RETENTION_SECONDS, Session, Store, SubscriptionState
from paybill.changes.lifecycle import allowed as lifecycle_allowed
from paybill.diagnostics import Diagnostic, Position, Severity
from paybill.gitio.repo import GitError
from paybill.propose.yamledit import EditError, edit_text
from paybill.validate.rules.tenant_agents import tenant_agents

WHERE = "<stripe>"
CODE_MALFORMED = "PB1010"
CODE_UNKNOWN_CUSTOMER = "PB1011"
CODE_UNKNOWN_PRICE = "PB1012"
CODE_TWO_TENANTS = "PB1013"
CODE_ONBOARDING = "PB1014"
CODE_LIFECYCLE = "PB1015"
CODE_WAITING = "PB1016"
CODE_NO_POLICY = "PB1017"
CODE_REFUSED = "PB1018"
CODE_AGENTS_BLOCK_PLAN = "PB1021"
"""A plan change Stripe already bills, refused only because agents act for the tenant (PB0450/PB0451)."""
AGENT_ENTITLEMENT_CODES = frozenset({"PB0450", "PB0451"})


@dataclass
class Proposed:
    tenant: str
    branch: str
    commit: str
    review: str
    classes: list[str]
    events: list[str]
    body: str
    onboarding: bool = False
    supersedes: str | None = None
    """The subscription's earlier proposal branch this one replaces (not merged: closing it is the reviewer's job)."""


@dataclass
class PassReport:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    proposals: list[Proposed] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    """Event id -> what this pass did with it (processed or kept)."""
    kept: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Pass:
    def __init__(self, session: Session, store: Store, ctx: RepoContext, now: int, *, dry_run: bool = False,
                 on_proposal: Callable[[Proposed], None] | None = None):
        self.on_proposal = on_proposal
        """Called with each proposal as soon as its branch exists, before its events are saved as done:
        what the caller keeps of it (the pull-request body) survives a crash later in the pass."""
        self.s = session
        self.store = store
        self.ctx = ctx
        self.now = now
        self.dry_run = dry_run
        self.report = PassReport()
        self.facts: BillingFacts = read_facts(ctx.base.index)

    # -- bookkeeping --------------------------------------------------------------------------------
    def error(self, code: str, message: str, hint: str | None, events: list[BillingEvent],
              severity: Severity = Severity.ERROR) -> None:
        self.report.diagnostics.append(Diagnostic(code, message, WHERE, Position(), hint, severity))
        for event in events:
            self.s.keep(event.id, f"kept: {code} {message}")
            self.report.outcomes[event.id] = f"kept ({code})"
            self.report.kept.append(event.id)

    def done(self, event: BillingEvent, outcome: str) -> None:
        self.s.done(event.id, outcome)
        self.report.outcomes[event.id] = outcome

    # -- the pass -----------------------------------------------------------------------------------
    def run(self) -> PassReport:
        events, broken = self.s.pending()
        for event_id, problem in broken:
            self.report.diagnostics.append(Diagnostic(CODE_MALFORMED, f"event {event_id}: {problem}", WHERE,
                                                      Position(), "the stored payload is kept; fix or remove it"))
        if not self.ctx.base.ok:
            self.error(CODE_NO_POLICY, f"the specs on {self.ctx.base_ref} do not validate; nothing is proposed",
                       "fix the base branch first (paybill validate)", events)
            return self.report
        policy = self.facts.policy
        if policy is None:
            self.error(CODE_NO_POLICY, "no BillingPolicy in the specs: no dunning or review rules to apply",
                       "add a BillingPolicy (see README: paybill billing)", events)
            return self.report
        if self.ctx.base.index.get("Agent", policy.agent) is None:
            self.error(CODE_NO_POLICY, f"the BillingPolicy's agent '{policy.agent}' does not exist",
                       "name an Agent spec in spec.agent", events)
            return self.report
        by_sub: dict[str, list[BillingEvent]] = defaultdict(list)
        for event in events:
            if event.type in CUSTOMER_TYPES:
                assert event.customer_info is not None
                fresh = self.s.remember_customer(event.created, event.customer_info)
                self.done(event, "customer details recorded" if fresh else "stale: newer customer details kept")
            elif not event.handled:
                self.done(event, f"ignored: {event.type} is not a billing event paybill acts on")
            elif event.subscription is None:
                self.done(event, "ignored: invoice without a subscription")
            else:
                by_sub[event.subscription].append(event)
        for sub_id in sorted(set(by_sub) | set(self.s.subscriptions)):
            self.subscription(sub_id, by_sub.get(sub_id, []))
        return self.report

    def subscription(self, sub_id: str, events: list[BillingEvent]) -> None:
        stored = self.s.subscriptions.get(sub_id)
        state = copy.deepcopy(stored) if stored else SubscriptionState(sub_id, events[0].customer or "")
        fresh: list[BillingEvent] = []
        for event in events:
            if event.created < state.last_created:
                self.done(event, f"stale: created {_day(event.created)}, before the state already applied "
                                 f"({_day(state.last_created)})")
            else:
                fresh.append(event)
        tenants = self.facts.tenants_by_customer.get(state.customer, [])
        if len(tenants) > 1:
            names = ", ".join(f"'{t.name}' ({t.document.path})" for t in tenants)
            if fresh:
                self.error(CODE_TWO_TENANTS, f"{self._named(fresh)}: customer '{state.customer}' is the billing "
                           f"customer of {len(tenants)} tenants: {names}; no proposal",
                           "give each tenant its own billing.customerId, then re-run", fresh)
            return
        if state.status is None and len(tenants) == 1 and tenants[0].status == "trialing":
            # No event of this subscription seen yet: the tenant's own status is where it starts, so
            # an invoice.payment_failed ending a trial (Stripe may deliver it before, or without, the
            # subscription update) is a trial ended unpaid like that update is, not an activation.
            # Only trialing is taken: another status's time is unknown (its dunning deadline counts
            # from the event that sets it).
            state.status = "trialing"
        folded = decide.fold(state, fresh, self.facts)
        if folded.unknown_prices or folded.ambiguous_prices:
            for event, prices in folded.unknown_prices:
                self.error(CODE_UNKNOWN_PRICE, f"event {event.id} ({event.type}): no plan declares price "
                           f"{', '.join(repr(p) for p in prices)}; no proposal for subscription '{sub_id}'",
                           "add the price id to a plan's spec.priceIds, then re-run", [])
            for event, plans in folded.ambiguous_prices:
                self.error(CODE_UNKNOWN_PRICE, f"event {event.id} ({event.type}): the subscription's prices map "
                           f"to several plans ({', '.join(plans)}); no proposal", "one plan per subscription", [])
            self.error(CODE_UNKNOWN_PRICE, f"{self._named(fresh)} kept for a re-run (subscription '{sub_id}' "
                       "waits for its price)", None, fresh, Severity.WARNING)
            return
        new = folded.state
        if not tenants:
            self.unmapped(sub_id, new, fresh)
            return
        tenant = tenants[0]
        new.tenant, new.onboarding = tenant.name, False
        wanted = decide.target(new, tenant, self.facts, self.now)
        changes = {f: v for f, v in wanted.items() if tenant.field(f) != v}
        if not changes:
            new.proposed, new.branch = {}, None
            for event in fresh:
                self.done(event, f"no change: tenant '{tenant.name}' already matches")
            self.s.save_subscription(new)
            return
        if changes == new.proposed:
            for event in fresh:
                self.done(event, f"already proposed on {new.branch}")
            self.s.save_subscription(new)
            return
        lifecycle = changes.get(decide.LIFECYCLE)
        if lifecycle is not None and not lifecycle_allowed(tenant.lifecycle, lifecycle):
            self.error(CODE_LIFECYCLE, f"{self._named(fresh) or 'dunning'}: tenant '{tenant.name}' would move "
                       f"{tenant.lifecycle} -> {lifecycle}, which paybill plan blocks; no proposal",
                       "a person must take the tenant through the allowed states", fresh)
            return
        self.propose_update(tenant, new, changes, fresh)

    @staticmethod
    def _named(events: list[BillingEvent]) -> str:
        return ", ".join(f"event {e.id} ({e.type})" for e in events)

    # -- proposals ----------------------------------------------------------------------------------
    def propose_update(self, tenant: TenantView, new: SubscriptionState, changes: dict[str, str],
                       fresh: list[BillingEvent], held_back: tuple[str, str] | None = None) -> None:
        """Propose ``changes`` to the tenant file; ``held_back``: the plan left out of them, and why (the body says)."""
        assert self.facts.policy is not None
        classes = decide.classes(tenant, changes, self.facts)
        review = decide.review(classes, self.facts)
        doc = tenant.document
        repo_path = self.ctx.where.repo_path(doc.path)
        old = self._read(repo_path)
        edits = [(doc.index, tuple(path.split(".")), value) for path, value in sorted(changes.items())]
        try:
            text = edit_text(old.decode("utf-8"), edits)
        except EditError as error:
            self.error(CODE_REFUSED, f"{doc.path}: cannot edit the tenant file: {error}", error.hint, fresh)
            return
        event_ids = [e.id for e in fresh] or self._state_events(new, changes)
        what = ", ".join(f"{path.removeprefix('spec.')} {tenant.field(path)} -> {value}"
                         for path, value in sorted(changes.items()))
        subject = f"billing: {tenant.name}: {what}"
        reasons = self._reasons(fresh, new, changes)
        header = self._header(tenant.name, classes, review, event_ids, reasons)
        superseded = self._superseded(tenant, new)
        if superseded is not None:
            header += ["", f"Supersedes `{superseded}` (proposed earlier for this subscription and not merged: "
                       f"its change is part of this one). Close that pull request; merging both conflicts."]
        if held_back is not None:
            plan, why = held_back
            header += ["", f"Not in this change: plan `{plan}`, which Stripe bills, is held back {why}."]
        result = propose_files(self.ctx, self.facts.policy.agent, {repo_path: text.encode("utf-8")},
                               {repo_path: old}, subject, reasons, event_ids, review,
                               f"billing-{tenant.name}-{'-'.join(classes)}", header, dry_run=self.dry_run)
        if self._blocked_by_agents(result, changes):
            self._without_plan(result, tenant, new, changes, fresh)
            return
        if result.refused and held_back is None and decide.PLAN in changes and len(changes) > 1:
            self._rest_without_plan(result, tenant, new, changes, fresh)
            return
        self.finish(result, tenant.name, new, changes, fresh, classes, review, event_ids, supersedes=superseded)

    @staticmethod
    def _blocked_by_agents(result: BillingProposal, changes: dict[str, str]) -> bool:
        """Whether only PB0450/PB0451 (the tenant's agents against its new plan) refused a plan change."""
        errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
        return decide.PLAN in changes and bool(errors) and not {d.code for d in errors} - AGENT_ENTITLEMENT_CODES

    def _without_plan(self, result: BillingProposal, tenant: TenantView, new: SubscriptionState,
                      changes: dict[str, str], fresh: list[BillingEvent]) -> None:
        """Report the blocked plan change (PB1021) and still propose the subscription's other changes.

        The customer already pays for the new plan in Stripe, so this is not a policy saying no (PB1018)
        but a change the platform owes the customer and cannot make alone: the billing agent may not
        narrow an agent's scope or edit the tenant's labels (``no-agent-widens-agents``, its grants), and
        which agent stops acting for the tenant is a person's choice. The diagnostic repeats on every
        pass (``sync`` exits 1) until that person's change is merged; the next pass then proposes the
        plan change. A plan change alone keeps its events pending. With other changes (a payment that
        failed, a dunning suspension) those are proposed without the plan: a blocked downgrade must
        not stop a tenant that does not pay from being suspended. Their events are then done and the
        plan change lives on in the subscription's saved price, from which every pass derives it again.
        """
        self.report.diagnostics.extend(result.diagnostics)
        plan = changes[decide.PLAN]
        rest = {path: value for path, value in changes.items() if path != decide.PLAN}
        agents = tenant_agents(self.ctx.base.index).get(tenant.name, [])
        named = ", ".join(agents) or "the agents named above"
        events = self._named(fresh) or (f"since event {', '.join(new.price_events)}" if new.price_events
                                        else "the subscription's saved price")
        other = ", ".join(f"{path.removeprefix('spec.')} -> {value}" for path, value in sorted(rest.items()))
        outcome = (f"its other changes ({other}) are proposed without it" if rest
                   else "nothing is proposed" + ("; kept until it can be" if fresh else ""))
        self.error(CODE_AGENTS_BLOCK_PLAN,
                   f"Stripe bills tenant '{tenant.name}' on plan '{plan}' ({events}), but plan '{plan}' does not "
                   f"allow the agents acting for it ({named}); the tenant stays on plan '{tenant.plan}' in git "
                   f"and {outcome}",
                   f"a person takes '{tenant.name}' out of the scope of {named} as the diagnostics above say "
                   "(its labels or the agents' tenantScope; the billing agent may not) and merges that; the "
                   "next pass then proposes the plan change. If the change in Stripe was a mistake, revert it there",
                   [] if rest else fresh)
        if rest:
            self._propose_rest(tenant, new, rest, fresh, plan, CODE_AGENTS_BLOCK_PLAN,
                               f"because agents act for `{tenant.name}` that the plan does not allow "
                               f"({CODE_AGENTS_BLOCK_PLAN}); it is proposed once a person takes the tenant out of "
                               "their scope")

    def _rest_without_plan(self, result: BillingProposal, tenant: TenantView, new: SubscriptionState,
                           changes: dict[str, str], fresh: list[BillingEvent]) -> None:
        """A proposal that changes the plan and more was refused: report it, and propose the rest on its own.

        Change control (the tier ceiling: a person decides every plan change of an enterprise tenant,
        PB0974) or validation (the new plan does not allow the tenant's isolation, PB0401) refusing the
        plan must not keep a tenant that stopped paying from going ``past_due`` and then being suspended:
        the payment and the plan are separate decisions. The plan refusal (PB1018) repeats on every pass,
        derived again from the subscription's saved price, until a person makes or reverts the change; if
        the rest is refused as well, its own PB1018 follows and its events are kept as before.
        """
        self.report.diagnostics.extend(result.diagnostics)
        plan = changes[decide.PLAN]
        rest = {path: value for path, value in changes.items() if path != decide.PLAN}
        refusals = ", ".join(sorted({d.code for d in result.diagnostics if d.severity is Severity.ERROR}))
        other = ", ".join(f"{path.removeprefix('spec.')} -> {value}" for path, value in sorted(rest.items()))
        self.error(CODE_REFUSED, f"plan change of tenant '{tenant.name}' ({tenant.plan} -> {plan}) refused; its "
                   f"other changes ({other}) are proposed without it",
                   "see the diagnostics above: a person makes the plan change (or the organisation changes the "
                   "rule), or it is reverted in Stripe; the refusal repeats on every pass until then", [])
        self._propose_rest(tenant, new, rest, fresh, plan, CODE_REFUSED,
                           f"because {refusals} refused it; a person makes that change, or it is reverted in Stripe")

    def _propose_rest(self, tenant: TenantView, new: SubscriptionState, rest: dict[str, str],
                      fresh: list[BillingEvent], plan: str, code: str, why: str) -> None:
        """Propose the subscription's changes but its plan, unless they are already proposed."""
        if rest == new.proposed:
            for event in fresh:
                self.done(event, f"already proposed on {new.branch} (its plan change waits: {code})")
            self.s.save_subscription(new)
            return
        self.propose_update(tenant, new, rest, fresh, held_back=(plan, why))

    @staticmethod
    def _superseded(tenant: TenantView, state: SubscriptionState) -> str | None:
        """The branch of the subscription's last update proposal when the base does not have its change yet.

        A later event (or the dunning clock) proposes the tenant's whole wanted change again on a new
        branch (``billing-status`` then ``billing-status-suspend``); the first branch, if still open,
        would conflict with it, so the new pull request names it. Once the base has every field the
        earlier proposal set, that proposal was merged and nothing is superseded.
        """
        fields = {decide.STATUS, decide.PLAN, decide.LIFECYCLE}
        if state.branch is None or not state.proposed or not set(state.proposed) <= fields:
            return None
        if all(tenant.field(path) == value for path, value in state.proposed.items()):
            return None
        return state.branch

    def unmapped(self, sub_id: str, new: SubscriptionState, fresh: list[BillingEvent]) -> None:
        policy = self.facts.policy
        assert policy is not None
        closed = ""
        if new.onboarding and new.tenant and new.branch and not self._branch_exists(new.branch):
            # The onboarding pull request was closed and its branch deleted: waiting for its merge would
            # keep these events forever (PB1016 at every pass). Forget it; what follows decides afresh.
            closed = f"; its onboarding proposal {new.branch} was closed (the branch is gone)"
            stored = self.s.subscriptions.get(sub_id)
            if stored is not None:  # only the onboarding is forgotten: kept events must not turn stale
                forgotten = copy.deepcopy(stored)
                forgotten.onboarding, forgotten.tenant, forgotten.branch, forgotten.proposed = False, None, None, {}
                self.s.save_subscription(forgotten)
            new.onboarding, new.tenant, new.branch, new.proposed = False, None, None, {}
        if new.onboarding and new.tenant:
            if fresh:
                # a subscription cancelled before its tenant exists: merging would create a tenant only to
                # suspend it; the reviewer of the onboarding pull request needs to know
                hint = (f"the subscription is cancelled meanwhile: close the onboarding pull request and delete "
                        f"its branch (git branch -D {new.branch}) instead of merging it"
                        if new.status == "cancelled" else
                        "merge it; the next pass then applies these events (the next delivery, the receiver's "
                        "--tick, or `paybill billing sync` with the same state now)")
                self.error(CODE_WAITING, f"{self._named(fresh)}: tenant '{new.tenant}' is proposed on "
                           f"{new.branch} and not on {self.ctx.base_ref} yet; kept until it is merged", hint, fresh,
                           Severity.WARNING)
            return
        if not fresh:
            return
        subscription_event = any(e.type.startswith("customer.subscription.") for e in fresh)
        starts = new.status in ("trialing", "active") and subscription_event
        if policy.onboarding is not None and new.status is None and any(e.stripe_status == "incomplete"
                                                                          for e in fresh):
            # Stripe's normal path for a subscription paid up front: created 'incomplete', updated to
            # 'active' seconds later. Not a mapping problem (it was an error, so sync exited 1 for it).
            self.error(CODE_UNKNOWN_CUSTOMER, f"{self._named(fresh)}: subscription '{sub_id}' of new customer "
                       f"'{new.customer}' is incomplete (its first payment is being attempted); onboarding waits "
                       "for it to become trialing or active", None, fresh, Severity.WARNING)
            return
        if policy.onboarding is None or not starts:
            if policy.onboarding is None:
                why = "the BillingPolicy has no onboarding rule"
            elif new.status not in ("trialing", "active"):
                why = f"the subscription is '{new.status or 'unknown'}', not trialing or active"
            else:  # it said "the subscription is 'active', not trialing or active"
                why = "onboarding starts from a customer.subscription event, and none of these is one"
            why += closed
            self.error(CODE_UNKNOWN_CUSTOMER, f"{self._named(fresh)}: no tenant has billing customer "
                       f"'{new.customer}' ({why}); no proposal",
                       "set spec.billing.customerId on the customer's tenant, then re-run", fresh)
            return
        sibling = self._onboarding_sibling(sub_id, new.customer)
        if sibling is not None:
            # A customer with two subscriptions (a second product, a re-subscribe before the first
            # onboarding merged) is one customer: a second tenant for it would be PB1013 once both
            # merged, and every later event of both subscriptions would be blocked.
            self.error(CODE_WAITING, f"{self._named(fresh)}: customer '{new.customer}' is already being onboarded "
                       f"as tenant '{sibling.tenant}' (subscription '{sibling.id}', proposed on {sibling.branch}); "
                       f"subscription '{sub_id}' is not onboarded as a second tenant and waits until that one is "
                       f"merged, then applies to it", None, fresh, Severity.WARNING)
            return
        folder = posixpath.join(self.ctx.where.prefix, policy.onboarding.directory) if self.ctx.where.prefix \
            else policy.onboarding.directory
        found = self._onboarding_in_repository(policy.agent, folder, new.customer)
        if found is not None:
            # The store does not know this onboarding (a new --state file, a move to --database-url, a
            # second receiver on another store) but the repository does: adopt it, as if proposed here.
            branch, name, pool = found
            new.tenant, new.onboarding, new.branch = name, True, branch
            new.proposed = {"new": name, "plan": self.facts.plan_by_price.get(new.price or "", "")}
            if pool:  # its place in the pool stays reserved for it (capacity)
                new.proposed["pool"] = pool
            self.s.save_subscription(new)
            self.error(CODE_WAITING, f"{self._named(fresh)}: customer '{new.customer}' is already proposed as tenant "
                       f"'{name}' on {branch} (found in the repository; this state store had no record of it); "
                       "not proposed again, kept until it is merged", None, fresh, Severity.WARNING)
            return
        plan = self.facts.plan_by_price.get(new.price or "")
        if plan is None:
            self.error(CODE_ONBOARDING, f"{self._named(fresh)}: cannot onboard customer '{new.customer}': "
                       "the subscription names no price", None, fresh)
            return
        info = self.s.customer(new.customer) or next((e.customer_info for e in reversed(fresh) if e.customer_info),
                                                     None)
        taken = set(self.facts.tenant_names) | {s.tenant for s in self.s.subscriptions.values()
                                                if s.onboarding and s.tenant and s.id != sub_id}
        # a file of that name in the folder is taken too, whatever it declares: the new file would replace
        # it (change control then refused removing the tenant inside, PB0973, at every pass)
        taken |= {posixpath.splitext(posixpath.basename(f.repo_path))[0]
                  for f in self.ctx.base_side.list(self.ctx.where.prefix).files
                  if posixpath.dirname(f.repo_path) == folder}
        reserved: dict[str, int] = defaultdict(int)
        for other in self.s.subscriptions.values():
            if other.onboarding and other.id != sub_id and other.proposed.get("pool"):
                reserved[other.proposed["pool"]] += 1
        assert new.status is not None
        built = build_tenant(info, new.customer, plan, new.status, policy.onboarding, self.facts, taken, reserved)
        if not built.ok:
            self.error(CODE_ONBOARDING, f"{self._named(fresh)}: cannot onboard customer '{new.customer}' on plan "
                       f"'{plan}': missing {'; '.join(built.missing)}; no tenant is proposed",
                       "complete the customer in Stripe or the BillingPolicy's onboarding rules, then re-run", fresh)
            return
        repo_path = posixpath.join(folder, f"{built.name}.yaml")
        depth = policy.onboarding.directory.count("/") + 2
        data = render(built.document, "../" * depth + "schemas/tenant.schema.json")
        classes = ["onboard"]
        review = decide.review(classes, self.facts)
        event_ids = [e.id for e in fresh]
        reasons = self._reasons(fresh, new)
        header = self._header(built.name, classes, review, event_ids, reasons)
        database = posixpath.join(self.ctx.out_prefix, "sql",
                                  f"pool-{built.pool}" if built.pool else f"tenant-{built.name}")
        # what the reviewer checks and what follows the merge: the body said neither
        header += ["", f"Before merging: check the name, placement and contacts (made from the Stripe customer "
                       f"`{new.customer}`). After merging: the apply workflow creates the tenant's stack, and "
                       f"`paybill db migrate {database}` admits `{built.name}` in its database; the subscription's "
                       "later events, kept meanwhile (PB1016), are then proposed."]
        result = propose_files(self.ctx, policy.agent, {repo_path: data}, {repo_path: None},
                               f"billing: onboard {built.name} on {plan} (customer {new.customer})", reasons,
                               event_ids, review, f"billing-{built.name}-onboard", header, dry_run=self.dry_run)
        new.tenant = built.name
        proposed = {"new": built.name, "plan": plan}
        if built.pool:
            proposed["pool"] = built.pool
        ok = self.finish(result, built.name, new, proposed, fresh, classes, review, event_ids, onboarding=True)
        if ok:
            new.onboarding = True
            self.s.save_subscription(new)

    def _onboarding_in_repository(self, agent: str, folder: str, customer: str) -> tuple[str, str, str] | None:
        """An unmerged branch of ``agent`` adding a Tenant onboarded from ``customer``: (branch, tenant, pool).

        Only consulted when a customer is about to be onboarded (rare), so one ``git diff`` per open
        branch of the billing agent is affordable; it is what keeps a lost or new state store from
        proposing the same customer a second time on ``...-onboard-2``.
        """
        repo = self.ctx.repo
        try:
            # merged branches pile up in a receiver's checkout: only the unmerged ones can hold an open onboarding
            refs = repo.run("for-each-ref", "--format=%(refname:short)", f"--no-merged={self.ctx.base_commit}",
                            f"refs/heads/paybill/{agent}/").split()
            for ref in sorted(refs):
                added = repo.run("diff", "--name-only", "--diff-filter=A", "--no-renames",
                                 f"{self.ctx.base_commit}...{ref}", "--", f"{folder}/").split()
                for path in added:
                    if not path.endswith((".yaml", ".yml")):
                        continue
                    try:
                        document = yaml.safe_load(repo.run("show", f"{ref}:{path}"))
                    except yaml.YAMLError:
                        continue
                    metadata = document.get("metadata") if isinstance(document, dict) else None
                    if not isinstance(metadata, dict):
                        continue
                    annotations, name = metadata.get("annotations"), metadata.get("name")
                    if isinstance(annotations, dict) and annotations.get(ONBOARDED_FROM) == customer \
                            and isinstance(name, str):
                        spec = document.get("spec")
                        placement = spec.get("placement") if isinstance(spec, dict) else None
                        pool = placement.get("pool") if isinstance(placement, dict) else None
                        return ref, name, pool if isinstance(pool, str) else ""
        except GitError:
            return None
        return None

    def _branch_exists(self, branch: str) -> bool:
        try:
            return self.ctx.repo.branch_exists(branch)
        except GitError:
            return True  # unknown: keep waiting rather than forget a proposal that may exist

    def _onboarding_sibling(self, sub_id: str, customer: str) -> SubscriptionState | None:
        """Another subscription of ``customer`` whose onboarding proposal is not merged yet, if any."""
        return next((s for _, s in sorted(self.s.subscriptions.items()) if s.id != sub_id
                     and s.customer == customer and s.onboarding and s.tenant), None)

    def finish(self, result: BillingProposal, tenant: str, new: SubscriptionState, proposed: dict[str, str],
               fresh: list[BillingEvent], classes: list[str], review: str, event_ids: list[str],
               *, onboarding: bool = False, supersedes: str | None = None) -> bool:
        if result.refused:
            self.report.diagnostics.extend(result.diagnostics)
            self.error(CODE_REFUSED, f"proposal for tenant '{tenant}' ({', '.join(classes)}) refused"
                       + (f"; {self._named(fresh)} kept for a re-run" if fresh else ""),
                       "see the diagnostics above: change control or validation decides, not the billing system",
                       fresh)
            return False
        if self.dry_run:
            for event in fresh:
                self.report.outcomes[event.id] = f"would propose for '{tenant}' (dry run; kept)"
            return False
        assert result.branch is not None and result.commit is not None
        made = Proposed(tenant, result.branch, result.commit, review, classes, event_ids, result.body, onboarding,
                        supersedes)
        if self.on_proposal is not None:
            self.on_proposal(made)
        new.proposed, new.branch = proposed, result.branch
        for event in fresh:
            self.done(event, f"proposed on {result.branch}")
        self.s.save_subscription(new)
        self.store.flush(self.s)
        self.report.proposals.append(made)
        return True

    # -- text ---------------------------------------------------------------------------------------
    @staticmethod
    def _state_events(new: SubscriptionState, changes: dict[str, str]) -> list[str]:
        """The events behind a change proposed with no new event: the price's for the plan, else the status's."""
        ids = list(new.price_events) if decide.PLAN in changes else []
        if not ids or set(changes) - {decide.PLAN}:
            ids += [e for e in new.status_events if e not in ids]
        return ids

    def _reasons(self, fresh: list[BillingEvent], new: SubscriptionState,
                 changes: dict[str, str] | None = None) -> list[str]:
        lines = [f"- {e.type} `{e.id}` at {_day(e.created)}" for e in sorted(fresh, key=lambda e: e.order_key)]
        if not fresh and changes and decide.PLAN in changes and new.price_events:
            lines.append(f"- plan: the subscription's price `{new.price}` (plan `{changes[decide.PLAN]}`) since "
                         f"event {', '.join(new.price_events)}, applied on an earlier pass")
            if set(changes) == {decide.PLAN}:
                return lines
        if not fresh:
            lines.append(f"- dunning: billing status `{new.status}` since {_day(new.status_since)} "
                         f"(events {', '.join(new.status_events)}), evaluated at {_day(self.now)}")
        return lines

    def _header(self, tenant: str, classes: list[str], review: str, event_ids: list[str],
                reasons: list[str]) -> list[str]:
        merge = ("**may merge without a human** once the checks pass (BillingPolicy review.autoMerge)"
                 if review == "auto" else "**needs a human review** (BillingPolicy review.requireHuman, or not "
                 "listed as autoMerge)")
        return [f"**Proposed by `paybill billing`** for tenant `{tenant}`: {', '.join(classes)}", "",
                f"Review: {merge}.", "", f"Billing events ({len(event_ids)}):", *reasons]

    def _read(self, repo_path: str) -> bytes:
        listing = {f.repo_path: f for f in self.ctx.base_side.list(self.ctx.where.prefix).files}
        source = listing[repo_path]
        return self.ctx.base_side.read([source])[source.blob]


def run_pass(store: Store, ctx_factory, now: int, *, dry_run: bool = False,
             on_proposal: Callable[[Proposed], None] | None = None) -> PassReport:
    """One pass under the store's lock; ``ctx_factory()`` opens the repository at the base ref (inside
    the lock, so a pass always proposes on top of the newest base)."""
    with store.session() as session:
        if not dry_run:
            session.prune_before = now - RETENTION_SECONDS
        return Pass(session, store, ctx_factory(), now, dry_run=dry_run, on_proposal=on_proposal).run()
