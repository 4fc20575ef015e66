"""The name grammar every side agrees on: spec names and table/column identifiers.

The models validate specs against it, the SQL emitter writes it into a ``CHECK`` constraint, the
catalog reader re-checks tenant names against it, and the guard trusts names that passed it. It lives
here, below all of them and free of pydantic, so the runtime can check a name without loading the
spec models.
"""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z](?:-?[a-z0-9])*$"
"""One grammar for every spec name. It must be safe to become part of a resource name on all five
clouds (lower case, digits, single hyphens), a Terraform address, a Cedar entity id, a file name and
a SQL identifier suffix: so no '..', '/', '${', '%{', quotes, spaces or upper case."""
NAME_MAX = 40
NAME_RE = re.compile(NAME_PATTERN)
IDENT_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Tables and columns become SQL identifiers and Cedar entity ids: snake_case, never quoted-needing."""
