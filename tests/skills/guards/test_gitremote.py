"""Git against remotes, for real: bare repositories served by file:// URLs, cloned at a ref or
a commit, pushed to new branches and undone; the owner's list and the URLs it refuses."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.repos import git, init_repo, write

from phasegraph.skills.core.errors import InputRefused, RemoteError
from phasegraph.skills.guards.gitremote import (
    REMOTES,
    RemoteAccess,
    clone_at,
    clone_at_commit,
    push_new_branch,
    remote_head,
    shown_url,
    start_branch,
    undo_commands,
    undo_push,
    valid_branch,
)


@dataclass
class Remote:
    """A bare repository under ``tmp/repos`` and the seed repository that filled it."""

    bare: Path
    url: str
    seed: Path
    access: RemoteAccess
    work: Path

    def sha(self, rev: str) -> str:
        return git(self.bare, "rev-parse", rev).strip()

    def branches(self) -> dict[str, str]:
        out = git(self.bare, "for-each-ref", "--format=%(refname:short) %(objectname)")
        return dict(line.split() for line in out.splitlines())


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    seed = init_repo(tmp_path / "seed", {"app.py": "def old():\n    return 1\n"})
    git(seed, "tag", "v1")
    write(seed, "app.py", "def old():\n    return 2\n")
    git(seed, "commit", "-qam", "second")
    git(seed, "switch", "-qc", "dev")
    write(seed, "dev.py", "D = 1\n")
    git(seed, "add", "dev.py")
    git(seed, "commit", "-qm", "dev work")
    git(seed, "switch", "-q", "main")
    bare = tmp_path / "repos" / "app.git"
    bare.mkdir(parents=True)
    git(bare, "init", "-q", "--bare", "-b", "main")
    git(seed, "push", "-q", bare.as_uri(), "main", "dev", "v1")
    access = RemoteAccess((f"{(tmp_path / 'repos').as_uri()}/",))
    return Remote(bare, bare.as_uri(), seed, access, tmp_path / "work")


def run_commit(clone: Path, message: str = "rename old to new") -> str:
    """The run's change in ``clone``, committed; its sha."""
    write(clone, "app.py", "def new():\n    return 2\n")
    git(clone, "commit", "-qam", message)
    return git(clone, "rev-parse", "HEAD").strip()


# The owner's list.


def test_a_listed_url_may_be_cloned_and_an_unlisted_one_names_the_owners_setting(
    remote: Remote, tmp_path: Path
) -> None:
    assert remote.access.refusal(remote.url) is None
    assert remote.access.refusal(f"{(tmp_path / 'repos').as_uri()}") is None

    refused = remote.access.refusal("https://github.com/acme/app.git")
    assert refused is not None
    assert "https://github.com/acme/app.git" in refused
    assert REMOTES in refused
    nothing = RemoteAccess(()).refusal(remote.url)
    assert nothing is not None
    assert "lists no remotes" in nothing
    assert REMOTES in nothing


def test_a_prefix_matches_at_a_path_boundary_and_dot_dot_cannot_climb_out(
    tmp_path: Path,
) -> None:
    repos = tmp_path / "repos"
    (repos / "a.git").mkdir(parents=True)
    (tmp_path / "reposX" / "b.git").mkdir(parents=True)
    (tmp_path / "secret.git").mkdir()
    (repos / "link.git").symlink_to(tmp_path / "secret.git")
    access = RemoteAccess((repos.as_uri(),))

    assert access.refusal(f"{repos.as_uri()}/a.git") is None
    assert access.refusal(f"{repos.as_uri()}/x/../a.git") is None
    assert access.refusal(f"FILE://{repos}/a.git") is None  # the scheme is case-insensitive
    for outside in (
        f"{tmp_path.as_uri()}/reposX/b.git",
        f"{repos.as_uri()}/../secret.git",
        f"{repos.as_uri()}/%2e%2e/secret.git",
        f"{repos.as_uri()}/link.git",  # a symlink out of the listed folder
    ):
        assert access.refusal(outside) is not None, outside


def test_scp_like_urls_match_as_written_and_https_hosts_at_a_boundary() -> None:
    access = RemoteAccess.from_env(
        {REMOTES: "git@github.com:acme/, https://GitHub.com/acme\n file:///srv/repos"}
    )

    assert access.prefixes == (
        "git@github.com:acme/",
        "https://GitHub.com/acme",
        "file:///srv/repos",
    )
    assert access.refusal("git@github.com:acme/app.git") is None
    assert access.refusal("https://github.com/acme/app.git") is None
    assert access.refusal("git@github.com:acme-evil/app.git") is not None
    assert access.refusal("git@github.com:acme/../evil/app.git") is not None
    assert access.refusal("https://github.com/acme-evil/app.git") is not None
    assert access.refusal("https://github.com.evil.test/acme/app.git") is not None
    assert access.allowed_protocols() == "file:https:ssh"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "empty"),
        ("-uploadpack=touch /tmp/x", "starts with '-'"),
        ("ssh://-oProxyCommand=touch/x.git", "starts with '-'"),
        ("ext::sh -c touch% /tmp/pwned", "remote helper"),
        ("fd::3", "remote helper"),
        ("file:///srv/repos/a.git\nfile:///etc", "control characters"),
        ("https://user:hunter2pass@github.com/acme/a.git", "credentials come from the server"),
        ("https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/acme/a.git", "credentials"),
        ("https://github.com/acme/a.git?access_token=abc", "credentials"),
        ("/srv/repos/a.git", "not a URL"),
    ],
)
def test_urls_refused_whatever_the_list_says(url: str, says: str) -> None:
    everything = RemoteAccess(("https://", "file:///", "ssh://", "git@github.com:"))

    refused = everything.refusal(url)

    assert refused is not None
    assert says in refused
    assert "hunter2pass" not in refused
    assert "ghp_0123456789" not in refused


def test_shown_url_hides_tokens_and_passwords_but_keeps_an_ssh_user() -> None:
    token = "ghp_0123456789abcdefghijABCDEFGHIJ012345"

    assert (
        shown_url(f"https://{token}@github.com/acme/a.git") == "https://***@github.com/acme/a.git"
    )
    assert shown_url("https://me:hunter2pass@host/a.git") == "https://***@host/a.git"
    assert shown_url("https://host/a.git?private_token=abc") == "https://host/a.git?***"
    assert shown_url("ssh://git@host/acme/a.git") == "ssh://git@host/acme/a.git"
    assert shown_url("git@github.com:acme/a.git") == "git@github.com:acme/a.git"


def test_valid_branch_refuses_what_git_or_a_push_would_misread() -> None:
    assert valid_branch("phasegraph/rename-x") is None
    for bad in ("", "-f", "HEAD", "refs/heads/x", "a..b", "a b", "x~1", "x:y", "a\nb"):
        assert valid_branch(bad) is not None, bad


# Cloning.


def test_clone_at_a_branch_a_tag_and_a_sha_checks_it_out_detached(remote: Remote) -> None:
    for ref, rev in [
        ("main", "main"),
        ("dev", "dev"),
        ("v1", "v1^{commit}"),
        (remote.sha("main~1"), "main~1"),
        (remote.sha("dev")[:10], "dev"),
        ("refs/heads/dev", "dev"),
    ]:
        dest = remote.work / f"clone-{ref.replace('/', '-')}"

        base = clone_at(remote.url, ref, dest, remote.access)

        assert base == remote.sha(rev), ref
        assert git(dest, "rev-parse", "HEAD").strip() == base
        assert git(dest, "status", "--porcelain") == ""  # checked out, nothing pending
        assert git(dest, "rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"  # detached


def test_clone_at_a_bad_ref_names_the_remotes_branches_and_leaves_nothing(
    remote: Remote,
) -> None:
    dest = remote.work / "clone"

    with pytest.raises(InputRefused) as refused:
        clone_at(remote.url, "mian", dest, remote.access)

    assert "'mian'" in str(refused.value)
    assert "dev, main" in str(refused.value)
    assert not dest.exists()


def test_clone_at_an_unlisted_url_runs_no_git_and_creates_nothing(remote: Remote) -> None:
    dest = remote.work / "clone"

    with pytest.raises(InputRefused, match=REMOTES):
        clone_at("https://127.0.0.1:9/acme/app.git", "main", dest, remote.access)

    assert not dest.exists()


def test_clone_at_never_clones_into_an_existing_folder(remote: Remote) -> None:
    dest = remote.work / "clone"
    write(dest, "keep.txt", "mine\n")

    with pytest.raises(RemoteError, match="it exists"):
        clone_at(remote.url, "main", dest, remote.access)

    assert (dest / "keep.txt").read_text() == "mine\n"


def test_a_missing_remote_is_a_permanent_error_naming_the_fix(remote: Remote) -> None:
    missing = remote.bare.with_name("missing.git").as_uri()
    dest = remote.work / "clone"

    with pytest.raises(RemoteError) as failed:
        clone_at(missing, "main", dest, remote.access)

    assert failed.value.transient is False
    assert "missing.git" in str(failed.value)
    assert "exists" in str(failed.value)
    assert not dest.exists()


def test_a_refused_connection_is_transient(tmp_path: Path) -> None:
    access = RemoteAccess(("git://127.0.0.1:9/",))

    with pytest.raises(RemoteError) as failed:
        clone_at("git://127.0.0.1:9/app.git", "main", tmp_path / "clone", access, timeout=30)

    assert failed.value.transient is True
    assert not (tmp_path / "clone").exists()


def test_a_file_only_list_stops_git_from_reaching_https_even_through_insteadof(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert remote.access.allowed_protocols() == "file"
    # The owner's git config rewrites the listed URL to https (as a mirror setting might).
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "url.https://127.0.0.1:9/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", remote.bare.parent.as_uri() + "/")
    dest = remote.work / "clone"

    with pytest.raises(RemoteError, match="transport 'https' not allowed") as failed:
        clone_at(remote.url, "main", dest, remote.access)

    assert failed.value.transient is False
    assert not dest.exists()


def test_clone_at_commit_checks_out_a_commit_no_branch_holds_any_more(remote: Remote) -> None:
    dev = remote.sha("dev")
    git(remote.bare, "update-ref", "-d", "refs/heads/dev")  # the branch is gone, its commit not
    dest = remote.work / "clone"

    clone_at_commit(remote.url, dev, dest, remote.access)

    assert git(dest, "rev-parse", "HEAD").strip() == dev
    assert (dest / "dev.py").read_text() == "D = 1\n"


def test_clone_at_commit_of_a_commit_the_remote_lost_is_a_remote_error(remote: Remote) -> None:
    dest = remote.work / "clone"

    with pytest.raises(RemoteError, match="is gone from"):
        clone_at_commit(remote.url, "1" * 40, dest, remote.access)

    assert not dest.exists()


# Pushing.


def test_push_new_branch_creates_it_at_the_runs_commit(remote: Remote) -> None:
    clone = remote.work / "clone"
    base = clone_at(remote.url, "main", clone, remote.access)
    start_branch(clone, "phasegraph/rename")
    commit = run_commit(clone)
    before = remote.branches()

    pushed = push_new_branch(
        clone, remote.url, "phasegraph/rename", commit, base, remote.access, protected="main"
    )

    assert (pushed.sha, pushed.already) == (commit, False)
    assert remote.branches() == {**before, "phasegraph/rename": commit}
    assert remote_head(remote.url, "phasegraph/rename", remote.access) == commit
    assert git(clone, "symbolic-ref", "--short", "HEAD").strip() == "phasegraph/rename"


def test_push_new_branch_again_after_a_worker_died_finds_its_push(remote: Remote) -> None:
    first = remote.work / "first"
    base = clone_at(remote.url, "main", first, remote.access)
    start_branch(first, "pg/x")
    commit = run_commit(first)
    push_new_branch(first, remote.url, "pg/x", commit, base, remote.access, protected="main")
    # Another worker redoes the run in a fresh clone: the same change, a new commit.
    second = remote.work / "second"
    clone_at_commit(remote.url, base, second, remote.access)
    start_branch(second, "pg/x")
    again = run_commit(second, "rename old to new (redone)")
    assert again != commit

    same = push_new_branch(first, remote.url, "pg/x", commit, base, remote.access, protected="main")
    redone = push_new_branch(
        second, remote.url, "pg/x", again, base, remote.access, protected="main"
    )

    assert (same.sha, same.already) == (commit, True)
    assert (redone.sha, redone.already) == (commit, True)  # the first push stands
    assert remote.sha("pg/x") == commit


def test_push_new_branch_never_moves_a_branch_with_other_commits(remote: Remote) -> None:
    clone = remote.work / "clone"
    base = clone_at(remote.url, "main", clone, remote.access)
    commit = run_commit(clone)
    before = remote.branches()

    with pytest.raises(RemoteError, match=r"already exists .* with other commits") as failed:
        push_new_branch(clone, remote.url, "dev", commit, base, remote.access, protected="main")

    assert "name another branch or delete it" in str(failed.value)
    assert remote.branches() == before


def test_push_new_branch_refuses_the_base_ref(remote: Remote) -> None:
    clone = remote.work / "clone"
    base = clone_at(remote.url, "dev", clone, remote.access)
    commit = run_commit(clone)
    before = remote.branches()

    for protected in ("dev", "refs/heads/dev"):
        with pytest.raises(InputRefused, match="the ref the run cloned"):
            push_new_branch(
                clone, remote.url, "dev", commit, base, remote.access, protected=protected
            )

    assert remote.branches() == before


def test_start_branch_refuses_the_clones_own_default_branch(remote: Remote) -> None:
    clone = remote.work / "clone"
    clone_at(remote.url, "v1", clone, remote.access)

    with pytest.raises(InputRefused, match="already exists in the clone"):
        start_branch(clone, "main")
    with pytest.raises(InputRefused, match="push branch"):
        start_branch(clone, "-f")


# Undoing a push.


def pushed_run(remote: Remote, branch: str = "pg/x") -> tuple[Path, str, str]:
    clone = remote.work / "clone"
    base = clone_at(remote.url, "main", clone, remote.access)
    start_branch(clone, branch)
    commit = run_commit(clone)
    push_new_branch(clone, remote.url, branch, commit, base, remote.access, protected="main")
    return clone, base, commit


def test_undo_push_deletes_a_branch_still_at_the_runs_commit(remote: Remote) -> None:
    _, _, commit = pushed_run(remote)

    done = undo_push(remote.url, "pg/x", commit, remote.access, workdir=remote.work)

    assert done == "deleted branch pg/x"
    assert "pg/x" not in remote.branches()
    assert undo_push(remote.url, "pg/x", commit, remote.access, workdir=remote.work) == (
        "branch pg/x is already gone"
    )
    assert [p.name for p in remote.work.iterdir()] == ["clone"]  # no scratch folder left


def test_undo_push_reverts_on_top_when_others_built_on_the_branch(remote: Remote) -> None:
    clone, _, commit = pushed_run(remote)
    write(clone, "other.py", "O = 1\n")
    git(clone, "add", "other.py")
    git(clone, "commit", "-qm", "a colleague's work")
    theirs = git(clone, "rev-parse", "HEAD").strip()
    git(clone, "push", "-q", remote.url, "HEAD:refs/heads/pg/x")

    done = undo_push(remote.url, "pg/x", commit, remote.access, workdir=remote.work)

    head = remote.sha("pg/x")
    assert done == f"pushed revert {head} onto pg/x"
    assert git(remote.bare, "rev-parse", "pg/x~1").strip() == theirs
    assert git(remote.bare, "show", "pg/x:app.py") == "def old():\n    return 2\n"
    assert git(remote.bare, "show", "pg/x:other.py") == "O = 1\n"
    # An undo run again (one that died before it could record its revert) reverts nothing twice.
    again = undo_push(remote.url, "pg/x", commit, remote.access, workdir=remote.work)
    assert again == f"revert {head} is already on pg/x"
    assert remote.sha("pg/x") == head


def test_undo_push_of_a_commit_not_on_the_branch_does_nothing(remote: Remote) -> None:
    _, _, commit = pushed_run(remote)
    before = remote.branches()

    with pytest.raises(RemoteError, match="is not on branch"):
        undo_push(remote.url, "dev", commit, remote.access, workdir=remote.work)

    assert remote.branches() == before


def test_undo_commands_run_by_a_person_delete_the_branch(remote: Remote) -> None:
    _, _, commit = pushed_run(remote)
    commands = undo_commands(remote.url, "pg/x", commit)
    scratch = remote.work / "person"
    scratch.mkdir()
    git(scratch, "init", "-q")

    subprocess.run(["bash", "-c", commands[1]], cwd=scratch, check=True, capture_output=True)

    assert "pg/x" not in remote.branches()
    assert all(remote.url in c or c.startswith(("#", "git -C")) for c in commands)
    token_url = "https://ghp_0123456789abcdefghijABCDEFGHIJ012345@host/a.git"
    assert not any("ghp_" in c for c in undo_commands(token_url, "pg/x", commit))
