"""graph.model."""
