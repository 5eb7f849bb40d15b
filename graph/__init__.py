"""The orchestrator: the run's model and machinery in layers, and its assembly on top.

Layers, bottom up (``tests/test_layering.py``): ``model/`` (plan, state, context, events, run
store, report), then ``recipes/`` (a sibling folder), ``durable/`` (what outlives a process),
``preflight/`` (what is checked before anything runs), ``steps/`` (how one step runs), then the
``prompts/`` and ``nodes/`` folders, and this folder's own modules on top: the builder, the run
driver, the tool, the server. This ``__init__`` imports nothing, so importing a lower layer never
loads the assembly."""
