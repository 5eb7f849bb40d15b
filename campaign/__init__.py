"""Campaigns: one plan over many repositories, each run remote (cloned, checked, pushed).

The layer above the assembly (``graph/``) and below the public API and the CLI: ``repos``
reads the ``--repos`` file, ``model`` holds the campaign and each repository's outcome (read
from a run's report), ``local`` runs the repositories through the library with a bounded
concurrency, ``served`` starts one background run per repository on LangGraph's server (its
queue spreads them over its workers), ``table`` shows them live, ``summary`` sums them up,
``run`` chooses between the two, and ``undo`` takes back the branches a campaign pushed.
This ``__init__`` imports nothing.
"""
