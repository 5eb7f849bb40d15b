"""The ``--repos`` file of a campaign: the repositories to run the plan over.

Two formats. A text file, one repository a line, ``URL [REF]``, ``#`` starting a comment::

    # the payments team
    https://github.com/acme/billing.git
    https://github.com/acme/ledger.git  release-2.x

Or YAML / JSON (``.yaml``, ``.yml``, ``.json``): a list of ``{repo, ref?, push?}`` (a bare
URL string is ``{repo: URL}``). The ref defaults to ``HEAD`` (the remote's default branch),
the push branch to the campaign's. Each repository appears once: its URL is its key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phasegraph.campaign.model import RepoEntry
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.core.text import clip, describe_errors
from phasegraph.skills.guards.gitremote import shown_url, valid_branch

STRUCTURED = (".yaml", ".yml", ".json")


def load_repos(path: Path) -> list[RepoEntry]:
    """The repositories ``path`` lists; :class:`InputRefused` naming the file, the line and
    the fix for anything wrong in it (nothing runs then)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputRefused(f"--repos {path}: cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputRefused(
            f"--repos {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    if path.suffix.lower() in STRUCTURED:
        entries = _structured(text, path)
    else:
        entries = list(_lines(text, path))
    if not entries:
        raise InputRefused(
            f"--repos {path}: no repository listed; give one git URL a line (or a YAML/JSON "
            "list of {repo, ref, push})"
        )
    return checked(entries)


def parse_repos(items: Sequence[RepoEntry | Mapping[str, Any] | str]) -> list[RepoEntry]:
    """Repositories given in code (entries, mappings or URL strings), checked as a file's."""
    return checked((f"repos[{n}]", _entry(item, f"repos[{n}]")) for n, item in enumerate(items))


def checked(entries: Iterable[tuple[str, RepoEntry]]) -> list[RepoEntry]:
    """``entries`` (each with where it was given) once each, with no credentials in a URL and
    valid push branches."""
    seen: dict[str, str] = {}
    out = []
    for where, entry in entries:
        if shown_url(entry.repo) != entry.repo:
            raise InputRefused(
                f"{where}: {shown_url(entry.repo)} holds credentials; take them out: they "
                "come from the environment of whoever runs the clone (git's credential "
                "helpers, the SSH agent), never from the campaign"
            )
        if entry.push is not None and (why := valid_branch(entry.push)) is not None:
            raise InputRefused(f"{where}: push: {why}")
        if entry.repo in seen:
            raise InputRefused(
                f"{where}: {entry.repo} is listed already ({seen[entry.repo]}); list each "
                "repository once: its URL is the campaign's key for it"
            )
        seen[entry.repo] = where.rpartition(": ")[2]
        out.append(entry)
    return out


def _lines(text: str, path: Path) -> Iterable[tuple[str, RepoEntry]]:
    for number, raw in enumerate(text.splitlines(), 1):
        line = _uncommented(raw).strip()
        if not line:
            continue
        where = f"{path}: line {number}"
        if line.startswith(("- ", "{", "[")):
            raise InputRefused(
                f"{where}: {clip(line, 80)!r} looks like YAML or JSON; name the file .yaml or "
                ".json, or write one 'URL [REF]' a line"
            )
        words = line.split()
        if len(words) > 2:
            raise InputRefused(
                f"{where}: {clip(line, 80)!r} has {len(words)} words; write 'URL [REF]' "
                "(a push branch per repository needs the YAML form: {repo, ref, push})"
            )
        if words[0].startswith("-") or (len(words) == 2 and words[1].startswith("-")):
            raise InputRefused(f"{where}: {clip(line, 80)!r}: a URL or ref cannot start with '-'")
        given = {"repo": words[0], "ref": words[1]} if len(words) == 2 else words[0]
        yield where, _entry(given, where)


def _uncommented(line: str) -> str:
    """``line`` without its comment: a ``#`` at the start or after a space (a URL's
    fragment, ``...#x``, is not one)."""
    if line.lstrip().startswith("#"):
        return ""
    cut = line.find(" #")
    tab = line.find("\t#")
    cuts = [c for c in (cut, tab) if c >= 0]
    return line[: min(cuts)] if cuts else line


def _structured(text: str, path: Path) -> list[tuple[str, RepoEntry]]:
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            json.loads(text)  # the strict reader's verdict; the nodes below give lines
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputRefused(f"--repos {path}: not valid {kind}: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise InputRefused(
            f"--repos {path}: the top level must be a list of {{repo, ref, push}} (or URLs), "
            f"not a {type(data).__name__}"
        )
    wheres = [f"{path}: line {item.start_mark.line + 1}" for item in node.value]
    return [(where, _entry(item, where)) for item, where in zip(data, wheres, strict=True)]


def _entry(item: object, where: str) -> RepoEntry:
    if isinstance(item, RepoEntry):
        return item
    if isinstance(item, str):
        item = {"repo": item}
    if not isinstance(item, Mapping):
        raise InputRefused(
            f"{where}: {item!r} is not a repository; give a URL or {{repo, ref, push}}"
        )
    try:
        entry = RepoEntry.model_validate(dict(item))
    except ValidationError as exc:
        problems = "; ".join(describe_errors(exc))
        raise InputRefused(
            f"{where}: {problems} (a repository is {{repo: URL, ref: REF, push: BRANCH}}, "
            "ref and push optional)"
        ) from None
    if entry.repo != entry.repo.strip() or any(ch.isspace() for ch in entry.repo):
        raise InputRefused(f"{where}: the URL {entry.repo!r} holds spaces; write the URL alone")
    if entry.repo.startswith("-") or entry.ref.startswith("-"):
        raise InputRefused(f"{where}: a URL or ref cannot start with '-' ({entry.repo!r})")
    return entry
