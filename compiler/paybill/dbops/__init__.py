"""Database operations on live PostgreSQL: migrate with a ledger, detect drift, export and erase a
tenant's rows in a pooled database.

Runtime code: it reads compiled output (``generated/sql/<database>/``, ``generated/tenants/<t>.json``
at HEAD) and the live database, and never imports the compiler stages (load, validate, graph, emit,
compile, plan); ``tests/dbops/test_layering.py`` checks that.
"""
