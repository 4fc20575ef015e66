"""``paybill propose``: agents change infrastructure only by proposing a branch.

* :mod:`.setspec`   - parse ``--set KIND/NAME:FIELD.PATH=VALUE``.
* :mod:`.yamledit`  - ruamel.yaml round-trip edits: comments, key order, quoting and indentation
                      survive, so the diff is only the changed lines.
* :mod:`.policies`  - the organisation's change-control rules in Cedar (``policies/``): loaded,
                      validated against their schema, evaluated.
* :mod:`.control`   - one Cedar request per changed field, plus the agent's own spec grants.
* :mod:`.branch`    - a commit on ``paybill/<agent>/<slug>`` built with git plumbing through a
                      temporary index file: the user's checkout, index and HEAD are never touched.
* :mod:`.proposal`  - the whole flow, ending with the pull-request body (the markdown plan).
"""
