"""Skills: what a plan step can do (read, write, verify, commit), and what every skill stands on.

Layers, bottom up (``tests/test_layering.py``): ``core/`` (errors, text, retries, redaction),
``guards/`` (the workspace's bounds, subprocesses, the network, git queries), ``python/`` (a Python
project: its interpreter, its checkers' configuration, its import graph and test selection),
then this folder's own modules: the ``Skill`` model (``base``), the registry, the built-in skills
(one module each, or a subpackage for a skill of several concepts: ``run_pytest/``,
``edit_block/``) and the adapters to LangChain tools and MCP. Nothing here imports the graph."""
