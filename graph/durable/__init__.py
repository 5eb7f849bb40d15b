"""What outlives a process: the checkpointer, the workspace lock, the undo journal (pre-images),
the pre-run tree, the baseline cache, faults and failpoints. Imports ``skills``, ``graph.model``."""
