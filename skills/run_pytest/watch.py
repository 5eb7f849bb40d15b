"""The audit hook an interpreter started ahead of its turn notes what it reads with, as Python
source (:data:`WATCH`) that the launcher and its start-up probe run first
(:mod:`phasegraph.skills.run_pytest.launcher`): what it read before its arguments came, so it can
tell whether the writes since changed any of it."""

from __future__ import annotations

#: The audit hook the launcher and its probe note what they read with, from the moment it is
#: in until the arguments come: each file opened (its identity then, before the reading),
#: each folder listed other than by the import system (its names then), each folder code ran
#: from, and what no hook can follow (a program started, a library loaded with ctypes).
WATCH = r'''
import os, sys, _thread

_HERE = os.getcwd()  # the workspace
_READ = {}  # (kind, path): what it was when first read ("open": identity, "list": names)
_RAN = {}  # each folder code ran from (a module's, an exec'd file's): one file of it
_BLIND = []  # what it did that no hook follows
_OFF = []  # the arguments came: from then on it reads the tree the writes left
_IN = set()  # the threads in the hook now: what the hook does raises events too
_UNSEEN = frozenset((
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.startfile", "ctypes.dlopen",
))
_EVENTS = _UNSEEN | {"open", "os.listdir", "os.scandir", "exec", "sqlite3.connect"}


def _now(kind, path):
    """What reading ``path`` gives, as far as a change goes: a file's identity, a folder's
    names; None if there is nothing to read."""
    try:
        if kind == "open":
            st = os.stat(path)
            if st.st_mode & 0o170000 != 0o040000:
                return [st.st_ino, st.st_size, st.st_mtime_ns]
        return "/".join(sorted(os.listdir(path)))
    except OSError:
        return None


def _note(event, args):
    if event in _UNSEEN:
        _BLIND.append(event)
    elif event == "exec":
        name = getattr(args[0], "co_filename", "")
        if isinstance(name, str) and (os.path.isabs(name) or os.path.isfile(name)):
            _RAN.setdefault(os.path.dirname(os.path.abspath(name)), name)
    elif not isinstance(args[0], int):  # by a descriptor: its opening was noted
        kind = "list" if event in ("os.listdir", "os.scandir") else "open"
        if event == "open" and args[2] & (os.O_WRONLY | os.O_RDWR) == os.O_WRONLY:
            return  # written, never read
        if kind == "list":
            caller = sys._getframe(2).f_code  # 0: this, 1: the hook
            if caller.co_name == "_fill_cache" and "importlib" in caller.co_filename:
                return  # the import system's: the folders on sys.path are checked as such
        path = os.path.abspath(os.fsdecode(os.fspath("." if args[0] is None else args[0])))
        if (kind, path) not in _READ:
            _READ[kind, path] = _now(kind, path)


def _audit(event, args):
    if _OFF or event not in _EVENTS:
        return
    me = _thread.get_ident()
    if me in _IN:
        return
    _IN.add(me)
    try:
        _note(event, args)
    except Exception as error:  # a read it could not note: one it cannot vouch for
        _BLIND.append("%s: %r" % (event, error))
    finally:
        _IN.discard(me)


def _quietly(call, *args):
    """``call(*args)``, what it reads unnoted: the launcher's own doings, not pytest's."""
    me = _thread.get_ident()
    _IN.add(me)
    try:
        return call(*args)
    finally:
        _IN.discard(me)


if hasattr(sys, "addaudithook"):
    sys.addaudithook(_audit)
else:
    _BLIND.append("no audit hook (Python < 3.8)")


def _project_code():
    """The project's own code that ran here (or was loaded): files in the workspace outside
    the interpreter's own folders (its stdlib, its site-packages, which a .venv in the
    workspace holds)."""
    if not _OWN:
        import site, sysconfig

        paths = sysconfig.get_paths()
        own = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
        own += getattr(site, "getsitepackages", list)()
        if getattr(site, "ENABLE_USER_SITE", False):
            own.append(site.getusersitepackages())
        _OWN.extend(os.path.join(os.path.realpath(folder), "") for folder in own if folder)
    found = [name for folder, name in list(_RAN.items()) if not _theirs(folder)]
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            if name not in _FILES:
                _FILES[name] = _theirs(os.path.dirname(os.path.abspath(name)))
            if not _FILES[name]:
                found.append(name)
    return found


def _theirs(folder):
    """Whether ``folder`` holds no code of the project's."""
    if folder not in _FOLDERS:
        real = os.path.join(os.path.realpath(folder), "")
        here = os.path.join(os.path.realpath(_HERE), "")
        _FOLDERS[folder] = not real.startswith(here) or real.startswith(tuple(_OWN))
    return _FOLDERS[folder]


_OWN = []  # the interpreter's own folders (real paths), once known
_FOLDERS = {}  # each folder judged by _theirs
_FILES = {}  # each module file judged, by its folder
'''
