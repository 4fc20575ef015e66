"""``paybill apply``: apply what a commit changed in ``generated/``, at any scale, on existing engines.

It stands beside ``plan`` and reads only the compiler's contract (``generated/manifest.json`` and the
files it lists), never the compiler itself: ``manifest`` reads that contract into typed records,
``schedule`` turns it into ordered phases of shards (a job plan a GitHub Actions matrix consumes),
``runner`` runs one shard's stacks with Terraform or OpenTofu, ``results`` records what each stack did
so a re-run resumes, and ``atlantis`` writes the same order as an ``atlantis.yaml``.
"""
