"""paybill: a declarative GitOps spec compiler for multi-tenant SaaS platforms and their AI agents.

The pipeline lives in sub-packages named after its stages: ``load`` -> ``validate`` -> ``graph`` ->
``emit`` -> ``write``; beside it sit ``plan`` (diffs between commits), ``audit``, ``propose`` and
``guard`` (the runtime that enforces agent bundles).
"""

__version__ = "0.1.0"
API_VERSION = "paybill.dev/v1alpha1"
