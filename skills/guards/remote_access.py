"""Which git remotes a run may clone and push to: the owner's list (``PHASEGRAPH_REMOTES``),
the URLs refused whatever the list says, URLs as they may be shown, and the branch names a
run may push to.

A run names its repository by URL; the server's owner lists the URL prefixes that may be
cloned. Credentials never come from a run: git's credential helpers or the SSH agent of the
server's environment supply them, so a URL holding one is refused, and every URL a report,
event or message shows goes through :func:`shown_url`.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from phasegraph.skills.core.redact import looks_secret, redact
from phasegraph.skills.guards.gitrepo import run_git_sync

#: The owner's setting: URL prefixes that may be cloned, separated by whitespace or commas.
REMOTES = "PHASEGRAPH_REMOTES"

#: What replaces a URL's credentials when it is shown.
HIDDEN = "***"

# scheme://authority/path?query#fragment (authority: [userinfo@]host[:port]).
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?P<rest>.*)",
    re.S,
)
# git's scp-like syntax: [user@]host:path, a colon before any slash.
_SCP = re.compile(r"(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]/]+\]|[^/:@\[]+):(?P<path>.*)", re.S)
# <transport>::<address>: git runs git-remote-<transport> (ext:: runs any command).
_HELPER_TRANSPORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.\-]*::")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Schemes whose user part, password or not, is a credential (a token as the user name).
_USER_IS_SECRET = frozenset({"http", "https", "ftp", "ftps"})
# The schemes git knows, as GIT_ALLOW_PROTOCOL names them.
_PROTOCOLS = {
    "file": "file",
    "git": "git",
    "http": "http",
    "https": "https",
    "ftp": "ftp",
    "ftps": "ftps",
    "ssh": "ssh",
    "git+ssh": "ssh",
    "ssh+git": "ssh",
}
_CREDENTIALS_FIX = (
    "credentials come from the server's environment: git's credential helpers or the SSH "
    "agent, never from a run; pass the URL without them"
)


def shown_url(url: str) -> str:
    """``url`` as it may be shown: credentials (a password, an HTTP user that is a token, a
    query string, a key-shaped part) replaced by ``***``; an SSH user (``git@``) kept."""
    found = _URL.fullmatch(url)
    if found is None:
        scp = _SCP.fullmatch(url)
        if scp is not None and scp["user"] and ":" in scp["user"]:
            url = f"{HIDDEN}@{url.partition('@')[2]}"
        return _hide_keys(url)
    scheme, authority = found["scheme"], found["authority"]
    userinfo, at, host = authority.rpartition("@")
    if at and (":" in userinfo or scheme.lower() in _USER_IS_SECRET):
        authority = f"{HIDDEN}@{host}"
    rest = found["rest"]
    if rest.startswith("?"):
        fragment = rest.find("#")
        rest = f"?{HIDDEN}" + (rest[fragment:] if fragment >= 0 else "")
    return _hide_keys(f"{scheme}://{authority}{found['path']}{rest}")


def _hide_keys(text: str) -> str:
    return redact(text).replace("[REDACTED]", HIDDEN)


def valid_branch(name: str) -> str | None:
    """Why ``name`` is no branch to push to (``git check-ref-format --branch``, no leading
    ``-``, not ``HEAD``, no ``refs/`` prefix), or ``None`` when it is fine."""
    if not name or CONTROL.search(name):
        return "a branch name is not empty and holds no control characters"
    if name.startswith("-"):
        return "a branch name may not start with '-' (git would read it as an option)"
    if name == "HEAD" or name.startswith("refs/"):
        return "name the branch itself (e.g. phasegraph/rename-x), not HEAD or a full refs/ name"
    proc = run_git_sync(Path(tempfile.gettempdir()), "check-ref-format", "--branch", name)
    if proc.returncode != 0 or proc.stdout.strip() != name:
        return "git check-ref-format refuses it (no '..', '~', '^', ':', '?', '*', '[', spaces)"
    return None


@dataclass(frozen=True)
class RemoteAccess:
    """The URL prefixes the owner lets runs clone and push to; nothing listed: none.

    A prefix matches a URL when, both normalised (scheme and host lower-case, ``.`` and
    ``..`` segments resolved, a ``file://`` path resolved as the file system does), the URL
    is the prefix or continues it after a ``/``: ``file:///srv/repos`` matches
    ``file:///srv/repos/a.git``, not ``file:///srv/reposX``. An scp-like ``git@host:org/x``
    is matched as written.
    """

    prefixes: tuple[str, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RemoteAccess:
        """The owner's list from ``PHASEGRAPH_REMOTES`` of ``environ`` (default: this
        process's environment): prefixes separated by whitespace or commas."""
        env = os.environ if environ is None else environ
        raw = env.get(REMOTES, "")
        return cls(tuple(p for p in re.split(r"[\s,]+", raw) if p))

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be cloned, naming it (shown without credentials) and the fix;
        ``None`` when it may."""
        shown = shown_url(url)
        if not url.strip():
            return "the repository URL is empty: pass the URL of a git remote as repo"
        if CONTROL.search(url):
            return (
                f"repository URL {shown!r} holds control characters (a newline, a tab...): "
                "pass the URL alone"
            )
        if url.startswith("-") or _host(url).startswith("-"):
            return (
                f"repository URL {shown!r} starts with '-' (or its host does), which git or "
                "ssh would read as an option: pass the URL of a git remote"
            )
        if _HELPER_TRANSPORT.match(url):
            return (
                f"repository URL {shown!r} names a '<transport>::' remote helper, which can "
                "run commands on the server (ext::, fd::...): pass a file://, https://, "
                "ssh:// or git@host:path URL"
            )
        if _has_credentials(url):
            return f"repository URL {shown!r} holds credentials: {_CREDENTIALS_FIX}"
        if "#" in url and _URL.fullmatch(url) is not None:
            return (
                f"repository URL {shown!r} has a '#' fragment, which no git remote needs: "
                "pass the URL without it"
            )
        scp = _URL.fullmatch(url) is None and _SCP.fullmatch(url)
        if _URL.fullmatch(url) is None and not scp:
            return (
                f"repository {shown!r} is not a URL: write a folder as file:///absolute/path, "
                "a remote as https://host/org/repo.git or git@host:org/repo.git"
            )
        if scp and ".." in scp["path"].split("/"):
            return (
                f"repository URL {shown!r} has a '..' segment: an scp-like URL is matched as "
                "written, so it may not climb out of a listed prefix; pass the path without '..'"
            )
        if not self.prefixes:
            return (
                f"repository URL {shown!r} may not be cloned: the server lists no remotes; its "
                f"owner allows URL prefixes with {REMOTES} (e.g. {REMOTES}='file:///srv/repos/ "
                "https://github.com/acme/')"
            )
        if not self._listed(url):
            listed = ", ".join(shown_url(p) for p in self.prefixes[:5])
            more = f" and {len(self.prefixes) - 5} more" if len(self.prefixes) > 5 else ""
            return (
                f"repository URL {shown!r} is not under a prefix the server's owner allows "
                f"({listed}{more}): pass a URL under one of them, or ask the owner to add it "
                f"to {REMOTES}"
            )
        return None

    def allowed_protocols(self) -> str:
        """The value of ``GIT_ALLOW_PROTOCOL`` for git run against these remotes: the
        protocols the listed prefixes use (``file``, ``https``, ``ssh``, ``git``...), so git
        refuses any other, even one a redirect, submodule or ``insteadOf`` would lead to."""
        used: set[str] = set()
        for prefix in self.prefixes:
            found = _URL.fullmatch(prefix)
            if found is not None:
                protocol = _PROTOCOLS.get(found["scheme"].lower())
                if protocol is not None:
                    used.add(protocol)
            elif _SCP.fullmatch(prefix) and not _HELPER_TRANSPORT.match(prefix):
                used.add("ssh")
        return ":".join(sorted(used))

    def _listed(self, url: str) -> bool:
        forms = {_normal(url), _normal(unquote(url))}
        if None in forms:
            return False
        prefixes = [p for p in (_normal(prefix) for prefix in self.prefixes) if p is not None]
        return all(any(_under(form, p) for p in prefixes) for form in forms if form)


def _has_credentials(url: str) -> bool:
    found = _URL.fullmatch(url)
    if found is not None:
        userinfo, at, _ = found["authority"].rpartition("@")
        if at and (":" in userinfo or found["scheme"].lower() in _USER_IS_SECRET):
            return True
        if found["rest"].startswith("?"):
            return True  # a query string: no git remote needs one, a token may hide in it
    else:
        scp = _SCP.fullmatch(url)
        if scp is not None and scp["user"] and ":" in scp["user"]:
            return True
    return looks_secret(url)


def _normal(url: str) -> str | None:
    """``url`` normalised for matching, or ``None`` when it is no URL."""
    found = _URL.fullmatch(url)
    if found is None:
        return url if _SCP.fullmatch(url) else None
    if found["rest"]:
        return None  # a query or fragment: refused before, never matched
    scheme = found["scheme"].lower()
    userinfo, at, host = found["authority"].rpartition("@")
    authority = f"{userinfo}{at}{host.lower()}"
    path = found["path"]
    if scheme == "file":
        # The file system's answer: symlinks and '..' resolved, as git will open it.
        path = os.path.realpath(path or "/")
    elif path:
        path = posixpath.normpath(path)
    return f"{scheme}://{authority}{path.rstrip('/')}"


def _host(url: str) -> str:
    found = _URL.fullmatch(url)
    return found["authority"].rpartition("@")[2] if found is not None else ""


def _under(url: str, prefix: str) -> bool:
    if prefix.endswith(":"):
        return url.startswith(prefix)
    return url == prefix or url.startswith(prefix.rstrip("/") + "/")
