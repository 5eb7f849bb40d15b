"""The hostile-input suite's sandbox: a real workspace, a folder outside it, byte snapshots.

Every case builds the same scene: ``ws/`` is a git repository with a
``.phasegraph/`` folder and symlinks that point out of it, ``outside/`` holds
the secrets a hostile plan would go for. A case ends by asserting that the
whole scene (``.git`` internals, symlinks and modes included) is byte for byte
what it was, unless the case says what may change.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from support.repos import init_repo

SECRET = "root:x:0:0 do not leak me\n"
LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"

Entry = tuple[str, bytes | str, int]


def snapshot_tree(root: Path) -> dict[str, Entry]:
    """Every entry under ``root``, ``.git`` included: files with bytes and mode, links, folders;
    all but the check tools' caches that phasegraph keeps in the workspace's ``.phasegraph/``
    (its ``cache/`` and the ``.gitignore`` that keeps it out of git)."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root / "ws" / ".phasegraph":
            dirnames[:] = [d for d in dirnames if d != "cache"]
            filenames = [f for f in filenames if f != ".gitignore"]
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", str(path.readlink()), 0)
            elif stat.S_ISDIR(info.st_mode):
                out[rel] = ("dir", b"", mode)
            elif stat.S_ISREG(info.st_mode):
                out[rel] = ("file", path.read_bytes(), mode)
            else:
                out[rel] = ("other", b"", mode)
    return out


@dataclass
class Sandbox:
    """A workspace and the world around it, with a snapshot to compare against."""

    root: Path
    ws: Path
    outside: Path
    before: dict[str, Entry] = field(default_factory=dict)

    def freeze(self) -> None:
        """Take the snapshot that :meth:`assert_unchanged` compares with."""
        self.before = snapshot_tree(self.root)

    def changes(self) -> list[str]:
        now = snapshot_tree(self.root)
        keys = sorted(set(now) | set(self.before))
        return [k for k in keys if now.get(k) != self.before.get(k)]

    def assert_unchanged(self) -> None:
        changed = self.changes()
        assert not changed, f"the workspace or the world around it changed: {changed}"

    def assert_outside_unchanged(self) -> None:
        changed = [c for c in self.changes() if not c.startswith("ws/") or c.startswith("ws/.git")]
        assert not changed, f"something outside the workspace (or in .git) changed: {changed}"


def build_sandbox(root: Path, *, git: bool = True) -> Sandbox:
    """The scene under ``root``; without ``git``, ``ws/.git`` is a plain folder (faster)."""
    outside = root / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "secret.txt").write_text(SECRET)
    (outside / "private" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")
    files = {"lib.py": LIB, "pkg/mod.py": "X = 1\n", "README.md": "hi\n"}
    if git:
        ws = init_repo(root / "ws", files)
    else:
        ws = root / "ws"
        files |= {".git/HEAD": "ref: refs/heads/main\n", ".git/config": ""}
        for rel, text in files.items():
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            (ws / rel).write_text(text)
    # phasegraph's own folder as phasegraph keeps it: owner-only (a run tightens it otherwise).
    (ws / ".phasegraph").mkdir(mode=0o700)
    (ws / ".phasegraph" / "runs.db").write_bytes(b"SQLite format 3\x00")
    (ws / ".phasegraph" / "runs.db").chmod(0o600)
    # Doors out of the workspace a hostile plan would try.
    (ws / "escape_dir").symlink_to("../outside")
    (ws / "escape_file").symlink_to("../outside/secret.txt")
    (ws / "abs_link").symlink_to(outside / "secret.txt")
    (ws / "gitlink").symlink_to(".git")
    (ws / "pkg" / "up").symlink_to("../..")
    box = Sandbox(root=root, ws=ws, outside=outside)
    box.freeze()
    return box
