"""The ``phasegraph`` command: run, resume, undo, plan, skills and friends. The top layer."""
