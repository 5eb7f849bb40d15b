"""A testing hook for crash tests: kill the process at a named point of a run.

Set ``PHASEGRAPH_FAILPOINT=<name>`` and the process sends itself SIGKILL when a
run reaches that point, exactly as a power cut or the OOM killer would. The
names are ``read:<step>`` (as a read starts), ``before-write:<step>``,
``after-write:<step>`` (on disk, its journal not told), ``write-landed:<step>``,
``verify:<step>``, ``before-commit`` and ``commit-landed``;
in an undo, ``undo-restored:<k>`` (once it has put back ``k`` files),
``undo-before-revert`` (every file back, the revert not committed) and
``undo-revert-landed`` (the revert committed, the undo's journal not told).
Without the variable it does nothing.

Two more names act at the same points instead of killing, for the fault tests:

- ``enospc@<name>`` raises ``OSError(ENOSPC)`` there, as a full disk does: at
  ``before-write:<step>`` the step's pre-image has just been copied and its journal entry
  stored, at ``write-landed:<step>`` its write has landed and its outcome been stored;
- ``pause@<name>`` creates the file that ``PHASEGRAPH_FAILPOINT_PAUSE`` names and waits there
  (the whole process, its event loop included) until that file is removed, so that a test
  can act at exactly that point (stop the database) and then let the run go on.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

ENV = "PHASEGRAPH_FAILPOINT"
PAUSE_FILE = "PHASEGRAPH_FAILPOINT_PAUSE"
#: The longest a ``pause@`` point waits for its file to go: a test that died never lets go.
PAUSE_LIMIT = 300.0


def failpoint(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    if wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif wanted == f"enospc@{name}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"failpoint {name}")
    elif wanted == f"pause@{name}":
        _pause(Path(os.environ[PAUSE_FILE]))


def _pause(marker: Path) -> None:
    marker.touch()
    deadline = time.monotonic() + PAUSE_LIMIT
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
