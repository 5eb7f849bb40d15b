"""``phasegraph mcp``: serve the orchestrator to MCP clients, on stdio or streamable HTTP."""

from __future__ import annotations

import argparse
from pathlib import Path

from phasegraph.cli.common import EXIT_OK, Env, attempts_arg, seconds_arg
from phasegraph.graph.model.context import RunOptions
from phasegraph.skills.core.errors import PreflightError

DESCRIPTION = """\
Serve phasegraph to MCP clients (Claude Code, Cursor, Codex, ...) over stdio, or over
streamable HTTP with --http. Its tools: run (a plan or a recipe in a workspace, with a progress
notification per step and the report as structured output), validate (a plan checked and
preflighted, nothing run), undo (a run, by the run_id its report gave) and runs (those a
workspace recorded).

Clients may work only in repositories under the folders you give with --root (repeat it), else
those in PHASEGRAPH_WORKSPACE_ROOTS; any other workspace is refused and nothing runs. The
options below bind every run: a client may tighten them (stricter, a shorter timeout, fewer
hosts), never loosen them, as on the LangGraph server, whose PHASEGRAPH_* settings are read
too. A run that stops puts the tree back as it was (--on-stop restore), so a client can send a
corrected plan at once.

In an MCP client's configuration (Claude Code's .mcp.json, Cursor's mcp.json):
  {"mcpServers": {"phasegraph": {"command": "phasegraph",
                                 "args": ["mcp", "--root", "/path/to/repos"]}}}
"""


def _address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as (host, port); the host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not [HOST:]PORT; e.g. --http 8765 or --http 127.0.0.1:8765"
        )
    return host, int(port)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="serve phasegraph to MCP clients (stdio, or streamable HTTP with --http)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mcp.add_argument(
        "--root",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a folder whose repositories clients may work in (repeat it; default: the "
        "folders in PHASEGRAPH_WORKSPACE_ROOTS)",
    )
    mcp.add_argument(
        "--http",
        type=_address,
        metavar="[HOST:]PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST: 127.0.0.1 "
        "by default; the server has no authentication: whoever reaches it may run plans "
        "under the roots)",
    )
    mcp.add_argument(
        "--strict", action="store_true", help="every run is strict: any check failure blocks"
    )
    mcp.add_argument(
        "--python",
        metavar="PATH",
        help="the interpreter (or virtualenv folder) the checks run with: absolute, or "
        "relative to each workspace (default: each workspace's own, as phasegraph run finds it)",
    )
    mcp.add_argument(
        "--step-timeout",
        type=seconds_arg,
        metavar="SECONDS",
        help="seconds a step may take, at most: a client may ask for less "
        f"(default: {RunOptions.step_timeout:g}, or PHASEGRAPH_MAX_STEP_TIMEOUT)",
    )
    mcp.add_argument(
        "--retries",
        type=attempts_arg,
        metavar="N",
        help="attempts for a step that fails with a transient fault, at most "
        f"(default: {RunOptions.retries}, or PHASEGRAPH_MAX_RETRIES)",
    )
    mcp.add_argument(
        "--baseline",
        choices=("auto", "before"),
        default="auto",
        help="when the checks' baselines run, unless a client says (default: auto; see "
        "phasegraph run --help)",
    )
    mcp.add_argument(
        "--on-stop",
        choices=("keep", "restore"),
        default="restore",
        help="what a run that stops does with its writes, unless a client says: 'restore' "
        "(default) puts the tree back as it was; 'keep' leaves them",
    )
    mcp.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="an internal host fetch_url may reach (repeat it); clients may name these or fewer",
    )
    mcp.set_defaults(handler=mcp_command)


def mcp_command(args: argparse.Namespace, env: Env) -> int:
    try:  # the SDK loads only here: other commands start without it
        from phasegraph.graph.mcp_access import Owner, roots_from
        from phasegraph.graph.mcp_server import build_mcp_server, serve
    except ImportError as exc:
        raise PreflightError(
            f"phasegraph mcp needs the MCP SDK ({exc}): pip install 'phasegraph[mcp]'"
        ) from None
    defaults = RunOptions()
    options = RunOptions(
        strict=args.strict,
        python=args.python,
        step_timeout=args.step_timeout or defaults.step_timeout,
        retries=args.retries or defaults.retries,
        baseline=args.baseline,
        on_stop=args.on_stop,
        allow_hosts=tuple(args.allow_host),
    )
    owner = Owner(roots=tuple(roots_from(args.root)), options=options)
    host, port = args.http or ("127.0.0.1", 8000)
    server = build_mcp_server(owner, registry=env.registry, host=host, port=port)
    if args.http is None:
        serve(server, "stdio")
        return EXIT_OK
    env.err.print(
        f"phasegraph mcp: streamable HTTP at http://{host}:{port}/mcp, workspaces under "
        f"{owner.shown_roots()}",
        highlight=False,
    )
    serve(server, "streamable-http")
    return EXIT_OK
