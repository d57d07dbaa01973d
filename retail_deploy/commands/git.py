"""git argv builders (read-only questions for the pre-deployment checklist)."""

from __future__ import annotations

from retail_deploy.commands import Command, cmd


def resolve_commit(repo: str, ref: str) -> Command:
    """`git rev-parse` of a tag or branch to the commit it names (exit 1 when it does not exist)."""
    return cmd("git", "-C", repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", read_only=True)


def is_ancestor(repo: str, commit: str, branch_ref: str) -> Command:
    """Exit 0 when `commit` is contained in `branch_ref` (merged), 1 when not."""
    return cmd("git", "-C", repo, "merge-base", "--is-ancestor", commit, branch_ref, read_only=True)
