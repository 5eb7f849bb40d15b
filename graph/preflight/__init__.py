"""graph.preflight."""
