"""The graph's nodes: planner, reads, consolidate, approve, writer, verify, gate, commit, report.
Each takes the state and the run's context and returns an update; they import every layer
below (``graph.model`` .. ``prompts``), never the assembly (``graph``'s own modules) or ``cli``."""
