"""Before anything runs: preflight checks, the dry run of every write in memory, plan acceptance
and the plan's diagram. Imports ``skills``, ``graph.model``, ``recipes``, ``graph.durable``."""
