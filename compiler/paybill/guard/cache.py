"""Cached Cedar decisions: the part of a decision that cannot change between calls is decided once.

Why it is exact. A bundle's policies read two kinds of facts. *Position facts*: the run's tenant,
workflow and step (on the run entity), the action, the resource, the tenant whose data it is and
the columns - a finite space per bundle. *Counters*: rows, rows read or written so far, budget,
calls in the last minute, elapsed time, steps, visits, approval - different on every call. Cedar
evaluates each policy on its own (a decision is "some permit holds and no forbid holds"), so the
policies can be split by what they read:

* **static** policies read no counter. Their verdict is a pure function of the position facts and
  the bundle revision, so it is computed by Cedar once per key and kept in a bounded
  :class:`DecisionCache`;
* **dynamic** policies read counters. They are the limit forbids, max-visits and approval forbids,
  and each is evaluated on every call, exactly, by a small interpreter of the Cedar expressions they
  use (:func:`compile_condition`: integer and boolean literals, ``context.<counter>``, ``||``,
  ``&&``, ``!``, comparisons, ``+``/``-`` with Cedar's 64-bit overflow error, ``if then else``).

The final verdict is the combination Cedar itself would give over all policies: allowed when the
static verdict allows and no dynamic forbid holds; the reasons are the permits when allowed, else
every forbid that holds. Whatever falls outside that plan is decided by Cedar directly, never
approximated: a bundle with a dynamic policy the interpreter does not cover (a permit that reads a
counter, a principal or resource constraint it cannot decide, an unknown operator) is not cached at
all; a static verdict with evaluation errors is not cached; an overflow while evaluating a
dynamic policy sends that call to Cedar (which reports the error and denies). Keys include the
bundle revision, so one cache can be shared by guards of several revisions (hot reload) and a new
revision never sees an old answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import cedarpy

from paybill.contract.bundle import ACTION, AGENT, COUNTERS
from paybill.guard.engine import Engine, Verdict
from paybill.guard.slicing import Slicer, _admits

DEFAULT_MAX_ENTRIES = 65536
"""Static verdicts kept per cache (one entry is a few hundred bytes)."""
DYNAMIC_ATTRIBUTES = frozenset((*COUNTERS, "rows", "visits", "approved"))
"""Context attributes that change from call to call; a policy reading any of them is dynamic."""
_BOOLEAN_ATTRIBUTES = frozenset(("approved",))
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

Values = dict[str, Any]
"""The counters (and ``rows``, ``visits``, ``approved``) of one call, by context attribute name."""
Predicate = Callable[[Values], Any]
CacheKey = tuple[Any, ...]


class NotCompilable(ValueError):
    """A dynamic policy uses something the interpreter does not cover: the bundle is not cached."""


class Overflow(ArithmeticError):
    """64-bit overflow: Cedar raises an evaluation error here, so the call goes to Cedar."""


class DecisionCache:
    """A bounded map of static verdicts, shared safely between threads and guards.

    When full, the oldest entry is dropped (insertion order): the working set of a deployment is
    the positions its runs are in, far below the bound, and a dropped entry is only recomputed.
    ``max_entries=0`` disables caching (every call goes to Cedar).
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if type(max_entries) is not int or max_entries < 0:
            raise ValueError("max_entries must be a non-negative integer")
        self.max_entries = max_entries
        self._entries: dict[CacheKey, Any] = {}
        self._lock = threading.Lock()
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def get(self, key: CacheKey) -> Any:
        """The entry, or None (a miss is counted; hits are not, to keep the hot path one lookup)."""
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        return found

    def put(self, key: CacheKey, value: Any) -> None:
        with self._lock:
            entries = self._entries
            while len(entries) >= self.max_entries:
                del entries[next(iter(entries))]
            entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _i64(value: int) -> int:
    if not _I64_MIN <= value <= _I64_MAX:
        raise Overflow(value)
    return value


_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


def _typed(expr: Any) -> tuple[str, str]:
    """(Python source, "long" | "bool") of one EST expression, or :class:`NotCompilable`.

    The source is built only from integer literals (``int`` values, printed by ``repr``), context
    attribute names from :data:`DYNAMIC_ATTRIBUTES` (read as ``c["<name>"]``) and fixed operator
    text, so no text from the bundle reaches the compiled code except numbers and known names.
    Types are checked here, as Cedar's validator does, so a compiled expression never meets a
    type error at run time; ``+`` and ``-`` go through :func:`_i64` (Cedar's overflow error).
    """
    if not isinstance(expr, dict) or len(expr) != 1:
        raise NotCompilable(f"unexpected expression {expr!r}")
    ((op, arg),) = expr.items()
    if op == "Value":
        if type(arg) is bool:
            return repr(arg), "bool"
        if type(arg) is int and _I64_MIN <= arg <= _I64_MAX:
            return f"({arg!r})", "long"
        raise NotCompilable(f"literal {arg!r}")
    if not isinstance(arg, dict):
        raise NotCompilable(f"operator {op!r} without operands")
    if op == ".":
        name = arg.get("attr")
        if arg.get("left") != {"Var": "context"} or name not in DYNAMIC_ATTRIBUTES:
            raise NotCompilable(f"attribute access {arg!r}")
        return f"c[{name!r}]", "bool" if name in _BOOLEAN_ATTRIBUTES else "long"
    if op == "!":
        return f"(not {_expect(arg.get('arg'), 'bool')})", "bool"
    if op in ("||", "&&"):
        word = "or" if op == "||" else "and"
        return f"({_expect(arg.get('left'), 'bool')} {word} {_expect(arg.get('right'), 'bool')})", "bool"
    if op in ("<", "<=", ">", ">="):
        return f"({_expect(arg.get('left'), 'long')} {_COMPARE[op]} {_expect(arg.get('right'), 'long')})", "bool"
    if op in ("==", "!="):
        left, left_type = _typed(arg.get("left"))
        right, right_type = _typed(arg.get("right"))
        if left_type != right_type:
            raise NotCompilable("comparison of different types")
        return f"({left} {_COMPARE[op]} {right})", "bool"
    if op in ("+", "-"):
        return f"_i64({_expect(arg.get('left'), 'long')} {op} {_expect(arg.get('right'), 'long')})", "long"
    if op == "if-then-else":
        condition = _expect(arg.get("if"), "bool")
        then, then_type = _typed(arg.get("then"))
        otherwise, else_type = _typed(arg.get("else"))
        if then_type != else_type:
            raise NotCompilable("if-then-else branches of different types")
        return f"({then} if {condition} else {otherwise})", then_type
    raise NotCompilable(f"operator {op!r}")


def _expect(expr: Any, wanted: str) -> str:
    source, found = _typed(expr)
    if found != wanted:
        raise NotCompilable(f"a {found} where Cedar needs a {wanted}")
    return source


def condition_source(conditions: Sequence[dict[str, Any]]) -> str:
    """Python source of one policy's ``when``/``unless`` clauses (true: the policy holds)."""
    if not isinstance(conditions, list):
        raise NotCompilable("conditions must be a list")
    parts = []
    for clause in conditions:
        kind = clause.get("kind") if isinstance(clause, dict) else None
        if kind not in ("when", "unless"):
            raise NotCompilable(f"condition kind {kind!r}")
        body = _expect(clause.get("body"), "bool")
        parts.append(body if kind == "when" else f"(not {body})")
    return " and ".join(parts) or "True"


def _function(source: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"_i64": _i64, "bool": bool, "__builtins__": {}}
    exec(compile(source, "<paybill.guard.cache>", "exec"), namespace)  # numbers and known names only
    function: Callable[..., Any] = namespace["f"]
    return function


def compile_condition(conditions: Sequence[dict[str, Any]]) -> Predicate:
    """One policy's conditions as a function of the call's counters (True: the policy holds)."""
    return _function(f"def f(c):\n    return bool({condition_source(conditions)})\n")


def _reads_dynamic(node: Any) -> bool:
    """Whether an EST subtree reads a dynamic context attribute (or the context as a whole)."""
    if isinstance(node, dict):
        for key in (".", "has"):
            access = node.get(key)
            if isinstance(access, dict) and access.get("left") == {"Var": "context"} and len(node) == 1:
                return access.get("attr") in DYNAMIC_ATTRIBUTES
        if node.get("Var") == "context" and len(node) == 1:
            return True  # the context used whole: treat as dynamic (and it will not compile)
        return any(_reads_dynamic(value) for value in node.values())
    if isinstance(node, list):
        return any(_reads_dynamic(value) for value in node)
    return False


class Plan:
    """How one bundle's policies split: a Slicer over the static ones, compiled dynamic forbids.

    ``Plan.of(est, agent)`` returns None when the bundle cannot be cached exactly (see the module
    docstring); the guard then asks Cedar for every call, as without a cache.
    """

    def __init__(self, static: Slicer, dynamic: list[tuple[str, dict[str, Any], dict[str, Any], str]]) -> None:
        self.static = static
        self._dynamic = dynamic
        self._by_slice: dict[tuple[str, str, str], Callable[[Values], list[str]]] = {}

    @classmethod
    def of(cls, est: dict[str, Any], agent: str) -> Plan | None:
        static: dict[str, Any] = {}
        dynamic = []
        for cedar_id, policy in est.get("staticPolicies", {}).items():
            if not _reads_dynamic(policy.get("conditions", [])):
                static[cedar_id] = policy
                continue
            principal = policy.get("principal", {})
            always = principal.get("op") == "All" or (
                principal.get("op") in ("in", "==") and principal.get("entity") == {"type": AGENT, "id": agent})
            if policy.get("effect") != "forbid" or not always:
                return None
            action = policy.get("action", {})
            if not (action.get("op") == "All" or (action.get("op") == "==" and "entity" in action)
                    or (action.get("op") == "in" and "entities" in action)):
                return None  # an action group: membership needs the schema, not decided here
            if policy["resource"].get("op") not in ("All", "==", "is") or "in" in policy["resource"]:
                return None
            try:
                source = condition_source(policy.get("conditions", []))
            except (NotCompilable, AttributeError, TypeError):
                return None
            dynamic.append((policy["annotations"]["id"], policy["action"], policy["resource"], source))
        return cls(Slicer({"staticPolicies": static}, ACTION), dynamic)

    def dynamic_for(self, action: str, resource_type: str, resource_id: str) -> Callable[[Values], list[str]]:
        """A function of the call's counters -> ``@id`` of the dynamic forbids that hold.

        Only forbids whose scope matches are in it (scopes here are decidable without entities).
        One compiled function per slice: the hot path pays one call, not one per policy.
        """
        key = (action, resource_type, resource_id)
        found = self._by_slice.get(key)
        if found is None:
            lines = ["def f(c):", "    fired = []"]
            for pid, action_scope, resource_scope, source in self._dynamic:
                if _admits(action_scope, ACTION, action) and _admits(resource_scope, resource_type, resource_id):
                    lines += [f"    if {source}:", f"        fired.append({pid!r})"]
            found = _function("\n".join([*lines, "    return fired", ""]))
            if len(self._by_slice) < 4096:  # pragma: no mutate (bound only; recomputing gives the same)
                self._by_slice[key] = found
        return found

    def static_policies(self, action: str, resource_type: str, resource_id: str) -> cedarpy.PolicySet:
        return self.static.policy_set(self.static.key(action, resource_type, resource_id))


class Decider:
    """Decides a guard's Cedar requests through its :class:`Plan` and a :class:`DecisionCache`.

    Without a plan (a bundle the cache cannot cover exactly) or with a disabled cache, every call
    goes to :meth:`Engine.authorize_one`, as before the cache existed.
    """

    def __init__(self, engine: Engine, plan: Plan | None, cache: DecisionCache, revision: str) -> None:
        self.engine = engine
        self.plan = plan if cache.enabled else None
        self.cache = cache
        self._lookup = cache._entries.get
        self.revision = revision
        self._violation_of = engine.violation_of

    def decide(self, key: CacheKey, action: str, resource_type: str, resource_id: str, values: Values,
               build: Callable[[], dict[str, Any]], entities: cedarpy.Entities) -> Verdict:
        """The verdict Cedar would give for the request ``build()`` makes.

        ``key`` holds every position fact the request carries (tenant, workflow, step, resource
        tenant, columns); ``values`` the counters in its context.
        """
        plan = self.plan
        if plan is None:
            return self.engine.authorize_one(build(), entities)
        try:
            fired = plan.dynamic_for(action, resource_type, resource_id)(values)
        except Overflow:
            return self.engine.authorize_one(build(), entities)
        full_key = (self.revision, action, resource_type, resource_id, *key)
        static: Verdict | None = self._lookup(full_key)
        if static is None:
            self.cache.misses += 1
            request = build()
            static = self.engine.verdict(cedarpy.is_authorized(
                request, plan.static_policies(action, resource_type, resource_id), entities))
            if static.errors:
                return self.engine.authorize_one(request, entities)
            self.cache.put(full_key, static)
        if not fired:
            return static
        reasons = tuple(sorted({*fired, *(() if static.allowed else static.reasons)}))
        violation_of = self._violation_of
        return Verdict(False, reasons, tuple(sorted({violation_of[r] for r in reasons if r in violation_of})), ())
