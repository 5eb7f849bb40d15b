"""graph.durable."""
