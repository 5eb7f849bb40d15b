"""The run's data: the plan, the graph state and its reducers, the run options (context), the
events, the run store's records and the report. Imports ``skills`` only."""
