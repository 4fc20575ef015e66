"""Generated READMEs: the policies README is generated so its lifecycle table never drifts from code."""

from __future__ import annotations

from paybill.changes.lifecycle import transition_table_markdown
from paybill.scaffold.targets import ScaffoldCloud

POLICIES_README_HEAD = """# Change-control policies

These [Cedar](https://www.cedarpolicy.com/) policies decide what AI agents may *propose* with
`paybill propose --as AGENT --set KIND/NAME:FIELD.PATH=VALUE -m MESSAGE`. Agents never change
infrastructure directly: a proposal is a branch `paybill/<agent>/<slug>` with one commit carrying the
trailer `Paybill-Agent: <agent>`, reviewed in a pull request like any other change.

## How a proposal is checked

For every changed field (found by diffing the specs before and after the edit, not by trusting the
command line), paybill asks Cedar one question:

* **principal**: `Paybill::Agent::"<agent>"` (attributes `team`, `ownerEmail`; labels as tags)
* **action**: `Paybill::Action::"propose"`
* **resource**: the spec being changed, e.g. `Paybill::Tenant::"acme-corp"` (a tenant carries its
  `plan`, `lifecycle`, `isolation`, `billingStatus`, `cloud`, `region`; labels as tags)
* **context**: `field` (`spec.plan`), `operation`, `before`/`after` as text, `beforeNumber`/`afterNumber`
  for integers, `fromPlan`/`toPlan` (plan entities) for a tenant's `spec.plan`, and `grantedBySpec`:
  whether the agent's own spec (`spec.permissions.proposals`, read from the *base* commit) grants it.
  Proposals made by `paybill billing` from billing-system events also carry `via` (`"billing"`) and
  `review` (`"auto"` or `"human"`, from the BillingPolicy); `paybill plan` reads them back from the
  commit's `Paybill-Via:` and `Paybill-Review:` trailers.

Cedar denies by default and any matching `forbid` wins. A policy that fails to evaluate denies too
(fail closed). A refusal names the `@id` of the rule that denied and the file and line it is on.
The same check runs in `paybill plan` on every commit of a pull request that carries a
`Paybill-Agent:` trailer, against the policies of the base branch, so a branch pushed without
`paybill propose` cannot get around the rules, and a pull request cannot loosen the rules it is
judged by. Such a commit may change only spec files the loader reads (regular `.yaml`/`.yml` files
below `specs/`, no hidden path) and the compiled `generated/`, and may not be a merge: touching
`policies/`, a workflow, a symlink, a submodule or any other file fails the plan (PB0978).

The trailer is what an agent declares, not proof of who wrote a commit: a commit without it is
judged as a person's. What the forge can enforce is where an agent pushes, so the pull-request
workflow passes the branch (`paybill plan --head-ref`): on `paybill/<agent>/<slug>` every commit is
that agent's, with or without the trailer, and a trailer naming another agent is refused. That
holds when each agent's git credential can push only its own `paybill/<agent>/*` branches; require a
person's approval on pull requests (branch protection) as well.

## Files

* `change-control.cedarschema`: the entity types, the `propose` action and its context. Exactly
  one schema file.
* `*.cedar`: the rules. Every policy needs a unique `@id("...")`. All files are validated against
  the schema by `paybill plan` (so CI rejects a broken rule before it is merged) and by
  `paybill propose` (which refuses to run on rules that do not validate).

## The rules shipped by `paybill init`

| @id | effect |
| --- | --- |
| `agent-spec-grants` | permit what the agent's own spec grants |
| `billing-agent-plan-tier-ceiling` | the billing agent may move a tenant only between plans of tier <= growth |
| `no-agent-changes-isolation` | no agent changes a tenant's isolation |
| `no-agent-moves-tenants` | no agent changes a tenant's placement (cloud, region, pool) |
| `no-agent-deletes-tenants` | no agent sets a lifecycle to `deleted` |
| `no-agent-widens-agents` | no agent changes an agent's permissions, scope, limits or workflows |
| `no-agent-changes-prices` | no agent changes a plan's price |
| `billing-events-drive-tenant-status` | `paybill billing` may propose billing status, lifecycle, new tenants |

## Tenant lifecycle transitions (enforced by `paybill plan` for everyone)

Independently of who proposes it, `paybill plan` blocks a lifecycle move that skips a state
(error PB0910), a new tenant born in a late state (PB0912), and removing the file of a tenant
that is not yet deleted (PB0911):

"""


def policies_readme() -> str:
    return POLICIES_README_HEAD + transition_table_markdown()


def pre_commit_config(hooks_repo: str | None, version: str) -> str:
    """A pre-commit configuration running ``paybill validate`` on spec changes."""
    if hooks_repo:
        return (
            "# pre-commit: validate specs before every commit (pip install pre-commit; pre-commit install)\n"
            "repos:\n"
            f"  - repo: {hooks_repo}\n"
            f"    rev: v{version}\n"
            "    hooks:\n"
            "      - id: paybill-validate\n"
        )
    return (
        "# pre-commit: validate specs before every commit (pip install pre-commit; pre-commit install).\n"
        "# Uses the paybill installed in your environment; `paybill init --hooks-repo URL` writes the\n"
        "# remote form that uses the hook paybill ships in its .pre-commit-hooks.yaml instead.\n"
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: paybill-validate\n"
        "        name: paybill validate\n"
        "        entry: paybill validate specs\n"
        "        language: system\n"
        "        files: ^specs/.*\\.ya?ml$\n"
        "        pass_filenames: false\n"
    )


REPOSITORY_README = """# Platform specs

This repository describes our multi-tenant platform declaratively for
[paybill](https://pypi.org/project/paybill/): plans, clouds, pools, tenants, the data model, and the
AI agents that may act on it with their workflows.

```sh
paybill validate          # check every spec, with positions and hints
paybill compile           # write generated/ (Terraform, agent bundles, SQL, manifest)
paybill plan              # what this branch changes, before you open a pull request
paybill audit --tenant acme-corp
```

* `specs/`: the specs (`schemas/` gives editors completion through the `yaml-language-server` headers).
* `policies/`: change-control rules for agent proposals (see `policies/README.md`).
* `.github/workflows/paybill-pr.yml`: on pull requests: validate, `compile --check`, the plan as a
  comment, checkov. `paybill-apply.yml` (with `paybill-apply-shard.yml`, one job per shard): on main,
  apply changed stacks wave by wave and migrate their databases. `paybill-drift.yml`: daily, compare
  every database with git and keep one issue per database, and plan every stack read only
  (`paybill apply drift`, in `PAYBILL_DRIFT_SHARDS` jobs) to keep one issue for the infrastructure.
  All of them install paybill with the pip requirement in the repository variable
  `PAYBILL_PIP_REQUIREMENT` (e.g. `paybill==0.1.0` or `paybill @ git+https://...@v0.1.0`), else the
  default `paybill init` wrote into their `env:`; without either, they stop and say so.
* `.pre-commit-config.yaml`: `paybill validate` before every commit (`pre-commit install`).

## Before the first merge to main

* `specs/clouds/{cloud_file}`: the account ids and the Terraform state backend are examples; set yours.
* Credentials for {provider_name}, read by the apply and drift workflows (OIDC where the cloud offers it):
  {credentials}.
* `PAYBILL_DATABASE_URL_COMMAND` (repository variable): a shell command printing the admin connection
  URL of the database that stack `$STACK` created, for `paybill db migrate` and `paybill db drift`.
"""
"""The README ``paybill init`` writes; :func:`repository_readme` fills in the chosen cloud."""

PROVIDER_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "Oracle Cloud", "ibm": "IBM Cloud"}


def repository_readme(target: ScaffoldCloud) -> str:
    """The scaffolded README, naming the chosen cloud's spec file and the CI settings that reach it."""
    kinds = {"vars": "repository variables", "secrets": "repository secrets"}
    grouped: dict[str, list[str]] = {}
    for setting in target.credentials:
        kind, name = setting.split(".", 1)
        grouped.setdefault(kinds[kind], []).append(f"`{name}`")
    credentials = "; ".join(f"{kind} {', '.join(names)}" for kind, names in grouped.items())
    return REPOSITORY_README.format(cloud_file=f"{target.cloud}.yaml", provider_name=PROVIDER_NAMES[target.provider],
                                    credentials=credentials)
