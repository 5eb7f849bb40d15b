"""What outlives a process: the checkpointer, the workspace lock, the undo journal (pre-images),
the run records and tried diff, the pre-run tree, the baseline cache, faults and failpoints.
Imports ``skills``, ``graph.model``."""
