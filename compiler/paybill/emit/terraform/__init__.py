"""Terraform emission: one stack (unit of state) per pool and per live tenant, in Terraform's JSON syntax.

We write Terraform's own JSON configuration syntax directly (what CDK for Terraform synthesised,
without cdktf, which HashiCorp deprecated on 2025-12-10). Layout:

* :mod:`.expr`      - ``Expr`` marks Terraform expressions; every other string is user text and is
                      escaped (``${`` -> ``$${``, ``%{`` -> ``%%{``) when the stack is rendered.
* :mod:`.stack`     - the stack builder (resources, data, outputs, backend, providers) and renderer.
* cloud names       - not derived here: each cloud's claim plan (``paybill/providers/<cloud>/names.py``)
                      is run by resolve, which reports collisions (PB0601); emitters read the names
                      with ``ctx.claimed(rule, *key)``.
* :mod:`.network`   - stable CIDR allocation for dedicated networks.
* :mod:`.planner`   - the one isolation planner: per layer, what lives in the pool stack and what in
                      the tenant stack.
* :mod:`.context`   - everything an emitter needs about one pool or one tenant, precomputed.
* :mod:`.backend`   - state backend blocks and ``terraform_remote_state`` configs from Cloud specs.
* :mod:`.providers` - one module per cloud, all of the same shape (:class:`CloudEmitter`).
* :mod:`.emitter`   - drives it all and returns the ``terraform/`` part of the output tree.
"""
