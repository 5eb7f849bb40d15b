"""A testing hook for crash tests: kill the process at a named point of a run.

Set ``PHASEGRAPH_FAILPOINT=<name>`` and the process sends itself SIGKILL when a
run reaches that point, exactly as a power cut or the OOM killer would. The
names are ``read:<step>`` (as a read starts), ``before-write:<step>``,
``write-landed:<step>``, ``verify:<step>``, ``before-commit`` and ``commit-landed``.
Without the variable it does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "PHASEGRAPH_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
