"""The change core shared by ``plan``, ``audit`` and ``propose``: what changed, and may it.

* :mod:`~paybill.changes.model` - the plan report and its records (spec and field changes, findings,
  database changes) that every renderer and the audit trail print;
* :mod:`~paybill.changes.specdiff` - the semantic diff of two sets of spec documents;
* :mod:`~paybill.changes.lifecycle` - which tenant lifecycle transitions are allowed;
* :mod:`~paybill.changes.control` and :mod:`~paybill.changes.policies` - change control: an agent's
  field changes checked against its spec and the organisation's Cedar rules;
* :mod:`~paybill.changes.history` and :mod:`~paybill.changes.trailers` - commits, their files and
  trailers, and the spec documents at a commit;
* :mod:`~paybill.changes.sides` and :mod:`~paybill.changes.committed` - which two sides are compared,
  and the compiled output committed on a side.

Why a package of its own: ``plan`` checks agent commits with change control, ``audit`` replays the
lifecycle rule over history, ``propose`` diffs and checks its edit. When each owned a piece, the
three imported each other in a circle. Now they all import this package and none imports another
(the ``changes`` contracts in ``pyproject.toml``).
"""
