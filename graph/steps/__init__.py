"""graph.steps."""
