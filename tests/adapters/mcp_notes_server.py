"""A small MCP server on stdio for the adapter tests: count words, append a note, refuse."""

from __future__ import annotations

from pathlib import Path

from mcp.server.fastmcp import FastMCP

server = FastMCP("notes")


@server.tool()
def word_count(path: str) -> str:
    """Count the words of a text file."""
    return f"{len(Path(path).read_text().split())} words"


@server.tool()
def append_note(path: str, note: str) -> str:
    """Append a line to a notes file, creating it if needed."""
    with Path(path).open("a") as handle:
        handle.write(note + "\n")
    return f"noted in {Path(path).name}"


@server.tool()
def refuse(reason: str) -> str:
    """Always fail, with the reason given."""
    raise ValueError(f"refused: {reason}")


if __name__ == "__main__":
    server.run("stdio")
