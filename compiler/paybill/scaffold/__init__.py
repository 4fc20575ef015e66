"""``paybill init DIR``: scaffold a new spec repository that passes ``paybill validate`` at once.

It writes example specs (four plans, one cloud and pool: AWS, or the ``--cloud`` chosen, four tenants,
a data model, two agents and their workflows), the change-control policies with their schema and
README, JSON Schemas for editor completion, both GitHub workflows, and a pre-commit configuration
with a ``paybill validate`` hook. Templates ship inside the package (``templates/``, one Cloud spec
per provider in ``clouds/``); the workflows and policies are the very files this repository runs,
and tests keep the copies identical.
"""

from paybill.scaffold.init import ScaffoldError, scaffold

__all__ = ["ScaffoldError", "scaffold"]
