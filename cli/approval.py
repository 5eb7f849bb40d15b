"""Asking a person, in the terminal, to approve every write of a run before the first one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.prompt import Confirm
from rich.text import Text

from phasegraph.cli.common import Env
from phasegraph.cli.progress import Progress
from phasegraph.cli.session import EventSink, event_sink
from phasegraph.graph.model.events import ApprovalAsked

if TYPE_CHECKING:  # graph.run loads LangGraph: not at the CLI's start
    from phasegraph.graph.run import InterruptHandler

#: Answers a paused run's question (the ``interrupt`` value) with the value to resume with.


def show_writes(console: Console, value: dict[str, Any]) -> None:
    """Every write the run asks to make, exactly: each file's unified diff where the run
    could work it out (one per file, however many edits make it), else the search/replace
    blocks and file previews of the writes themselves."""
    writes: list[dict[str, Any]] = list(value.get("writes", []))
    files: list[dict[str, Any]] = list(value.get("files", []))
    shown = {w for f in files if f.get("diff") is not None for w in f.get("writes", [])}
    console.print(
        Text.assemble(
            ("\n", ""), (f"Approve {len(writes)} write(s)", "bold"), f" — {value.get('goal', '')}"
        )
    )
    console.print()
    for n, write in enumerate(writes, start=1):
        paths = ", ".join(write.get("paths", [])) or "?"
        gap = "" if write["id"] in shown else "\n"
        console.print(Text(f"{gap}{n}. {write['id']}  {write['skill']}  {paths}", style="bold"))
        if write["id"] in shown:
            continue  # in its file's diff below
        args = dict(write.get("args", {}))
        if "search" in args and "replace" in args:
            for line in str(args.pop("search")).splitlines() or [""]:
                console.print(Text(f"  - {line}", style="red"))
            for line in str(args.pop("replace")).splitlines() or [""]:
                console.print(Text(f"  + {line}", style="green"))
        if "content_preview" in write:
            size = f"{write.get('content_lines', 0)} line(s), {write.get('content_bytes', 0)} bytes"
            more = ", preview:" if write.get("content_truncated") else ":"
            console.print(Text(f"  whole file, {size}{more}", style="dim"))
            for line in str(write["content_preview"]).splitlines():
                console.print(Text(f"  + {line}", style="green"))
            if write.get("content_truncated"):
                console.print(Text("  + …", style="green"))
        args.pop("path", None)
        if args:
            console.print(Text(f"  args: {json.dumps(args, ensure_ascii=False)}", style="dim"))
    for change in files:
        show_diff(console, change)
    then = []
    if value.get("verifies"):
        then.append("check with " + ", ".join(value["verifies"]))
    if value.get("commit"):
        then.append(f"commit {value['commit']!r} if every check is green")
    if then:
        console.print(Text("\nthen: " + "; then ".join(then)))


#: How each line of a unified diff is coloured, by its first character.
DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


def show_diff(console: Console, change: dict[str, Any]) -> None:
    """One file's unified diff, as the approval request gives it."""
    diff = change.get("diff")
    if diff is None:
        return
    made = ", ".join(change.get("writes", []))
    console.print(Text(f"\n{change['path']}  ({made})", style="bold"))
    for line in str(diff).splitlines():
        header = line.startswith(("---", "+++"))
        style = "bold" if header else DIFF_STYLES.get(line[:1], "")
        console.print(Text(f"  {line}", style=style))
    if change.get("diff_omitted"):
        console.print(Text(f"  … {change['diff_omitted']} more diff line(s)", style="dim"))
    if change.get("then"):
        console.print(
            Text(f"  then changed further by {', '.join(change['then'])} (not shown)", style="dim")
        )


def ask_approval(console: Console, value: Any) -> dict[str, Any]:
    """Show every write in ``value`` and ask; the answer resumes the run.

    Anything but a clear yes is a no: an empty answer, a closed standard input, Ctrl-C.
    """
    if not isinstance(value, dict):
        console.print(f"the run asks: {value!r}")
        value = {}
    show_writes(console, value)
    count = len(value.get("writes", []))
    try:
        ok = Confirm.ask(f"\nApply these {count} write(s)?", console=console, default=False)
    except (EOFError, KeyboardInterrupt):
        console.print()
        return {"approve": False, "reason": "no answer (standard input closed or interrupted)"}
    if ok:
        return {"approve": True}
    return {"approve": False, "reason": "declined at the prompt"}


@contextlib.contextmanager
def events_and_approval(
    env: Env, json_lines: bool, approve: bool
) -> Iterator[tuple[EventSink, InterruptHandler | None]]:
    """Where step events go (like ``event_sink``) and who answers an approval pause.

    The live table stops redrawing while the question waits; with ``--json``
    the question is also emitted as an ``approval`` event and asked on stderr.
    """
    if json_lines:
        with event_sink(env, True) as on_event:

            def answer_json(value: Any) -> dict[str, Any]:
                on_event(ApprovalAsked(event="approval", request=value))
                return ask_approval(env.err, value)

            yield on_event, answer_json if approve else None
        return
    with Progress(env.out) as progress:

        def answer(value: Any) -> dict[str, Any]:
            with progress.paused():
                return ask_approval(env.out, value)

        yield progress.on_event, answer if approve else None
