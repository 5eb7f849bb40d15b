"""How one step runs: the step runner (retries, rows, events, outputs) and the eager job runner
the read and verify nodes run their tasks with. Imports the layers below it
(``graph.preflight`` down)."""
