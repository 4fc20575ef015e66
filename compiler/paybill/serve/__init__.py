"""``paybill serve``: an agent's bundle as an MCP server over its database (runtime side).

Runtime code: it imports the guard and ``paybill.contract``, never a compiler stage (the
``runtime`` import contract in pyproject.toml). A regular package, so setuptools ships it.
"""
