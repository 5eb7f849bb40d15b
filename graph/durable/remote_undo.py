"""The undo of a remote run, from its report: the branch it pushed deleted while nobody built
on it, else a revert of its commit pushed on top (never a force-push); the owner's settings
(``PHASEGRAPH_REMOTES``, the work directory) of the process that undoes it apply."""

from __future__ import annotations

import asyncio

from phasegraph.graph.model.remote import RemoteSettings
from phasegraph.graph.model.report import Report
from phasegraph.skills.core.errors import UndoError
from phasegraph.skills.guards.remote_undo import undo_push


async def undo_remote_run(report: Report) -> str:
    """Undo what the remote run of ``report`` pushed; a one-line account of what was done
    ("deleted branch B", "pushed revert SHA onto B", "branch B is already gone"). Raises
    :class:`UndoError` for a report that pushed nothing, :class:`RemoteError` when the
    remote refuses."""
    remote = report.remote
    if remote is None or not remote.pushed or not remote.commit:
        raise UndoError(
            "this run pushed nothing: there is nothing to undo on a remote (a stopped remote "
            "run left nothing behind; its clone is gone)"
        )
    settings = await asyncio.to_thread(RemoteSettings.from_env)
    return await asyncio.to_thread(
        undo_push,
        remote.repo,
        remote.branch,
        remote.commit,
        settings.access,
        workdir=settings.work_dir,
    )
