"""``paybill plan``: what a change does, before it is merged.

Both sides are read from git objects (the head may be the work tree), loaded and validated like
``paybill validate`` would, then compared:

* :mod:`.specdiff`    - spec changes per kind and name, field by field (deepdiff), with positions.
* :mod:`.lifecycle`   - the allowed tenant lifecycle transitions (a documented table); others block.
* :mod:`.isolation`   - layers changing place, each with an ordered migration runbook.
* :mod:`.permissions` - permission widening in agent bundles.
* :mod:`.datastores`  - changes that destroy a database, a bucket or a table.
* :mod:`.revenue`     - the change in monthly recurring revenue from plan prices.
* :mod:`.impact`      - what each changed spec reaches (tenants, stacks, bundles).
* :mod:`.terraform`   - per stack, resources created, updated, destroyed or replaced.
* :mod:`.stackconfig` - provider configurations (where resources live) and backends (where state is).
* :mod:`.engine`      - puts it together into a :class:`~paybill.changes.model.PlanReport`.
* :mod:`.render`      - text, markdown (pull requests) and json.
"""

from paybill.changes.model import PlanReport
from paybill.plan.engine import build_report

__all__ = ["PlanReport", "build_report"]
