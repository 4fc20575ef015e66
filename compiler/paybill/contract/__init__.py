"""Formats the compiler writes and the runtime reads: the one place both sides import.

* :mod:`~paybill.contract.bundle` - the agent bundle: file names, Cedar names, violation names,
  canonical JSON, the revision hash and the payload a signature covers;
* :mod:`~paybill.contract.requests` - the Cedar request shapes the compiler's golden checks and the
  guard both build;
* :mod:`~paybill.contract.sql_catalog` - the SQL catalog in ``migrations.json`` (the database plan) and
  its validating reader;
* :mod:`~paybill.contract.sql_names` - SQL identifiers, quoting and the role/setting names;
* :mod:`~paybill.contract.names` - the spec name grammar (``NAME_PATTERN``, ``NAME_MAX``);
* :mod:`~paybill.contract.files` - how a reader of those formats opens a file someone else chose:
  regular files only (never a FIFO or device), read with a size cap;
* :mod:`~paybill.contract.line_problems` - the cap on problems reported per line file (decision
  logs, traces, shadow logs, event exports).

Why a package of its own: the runtime (``paybill.guard``) must not load the compiler (pydantic,
PyYAML, networkx, the emitters) just to read what the compiler wrote. This package sits below both
and imports only the standard library and orjson; the import contracts in ``pyproject.toml`` keep it so.
"""
