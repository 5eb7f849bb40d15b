"""The guards every skill goes through: the workspace's bounds and atomic writes, subprocesses
with limits and a reaper, the network's allow-list, and git queries.
Imports ``skills.core`` only."""
