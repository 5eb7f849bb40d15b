"""The record of a campaign run on one machine: ``<work dir>/campaigns/<id>.json``, each
repository's final outcome, so running the campaign again starts only the others.

A repository is recorded once its run ends in a report (pushed, unchanged, blocked, failed,
refused); a run that raised, or that the process did not live to finish, is not, so the next
run of the campaign starts it again (an earlier attempt's push of the same change is found on
the remote and kept: ``push_new_branch``'s ``already``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from phasegraph.campaign.model import Campaign, RepoOutcome
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.guards.workspace import atomic_write

#: The folder under the work directory that holds the campaigns' records.
FOLDER = "campaigns"


class CampaignRecord:
    """The ended outcomes of one campaign, kept in its file (writes are atomic, one at a time)."""

    def __init__(self, campaign: Campaign, work_dir: Path) -> None:
        self.campaign = campaign
        self.path = work_dir / FOLDER / f"{campaign.id}.json"
        self.ended: dict[str, RepoOutcome] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> dict[str, RepoOutcome]:
        """The outcomes an earlier run of the campaign recorded, by repository URL.
        :class:`InputRefused` when the file is of another plan or unreadable."""
        self.ended = await asyncio.to_thread(self._read)
        return dict(self.ended)

    async def keep(self, outcome: RepoOutcome) -> None:
        """Record ``outcome`` (an ended one) for its repository."""
        async with self._lock:
            self.ended[outcome.repo] = outcome
            data = json.dumps(self._data(), indent=2, sort_keys=True).encode()
            await asyncio.to_thread(self._write, data)

    def _data(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign.id,
            "plan": self.campaign.plan,
            "branch": self.campaign.branch,
            "repos": {repo: o.model_dump(mode="json") for repo, o in self.ended.items()},
        }

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, data, mode=0o600)

    def _read(self) -> dict[str, RepoOutcome]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputRefused(
                f"campaign {self.campaign.id}: its record {self.path} cannot be read ({exc}); "
                "remove it to run every repository again"
            ) from exc
        if not isinstance(raw, dict) or raw.get("plan") != self.campaign.plan:
            raise InputRefused(
                f"campaign {self.campaign.id} was run with another plan (its record: "
                f"{self.path}); give this plan another campaign id (--id), or remove the "
                "record to start the campaign over"
            )
        try:
            kept = {
                str(repo): RepoOutcome.model_validate(outcome)
                for repo, outcome in (raw.get("repos") or {}).items()
            }
        except (ValidationError, AttributeError) as exc:
            raise InputRefused(
                f"campaign {self.campaign.id}: its record {self.path} is damaged ({exc}); "
                "remove it to run every repository again"
            ) from exc
        return {repo: outcome for repo, outcome in kept.items() if outcome.ended}
