"""coopshell at another commit, as one more column of the same run.

``python -m bench --baseline REV`` measures coopshell at ``REV`` next to the
working tree, interleaved with the other columns, so that "before and after"
see the same machine load. The code at ``REV`` is checked out once, with
``git worktree add --detach``, under ``bench/out/baseline-<sha>/tree`` (reused
by later runs; ``bench/out/`` is gitignored). The scenarios stay those of the
working tree: only the ``coopshell`` package comes from ``REV``.

How the worker gets that package: ``bench/out/baseline-<sha>/path/`` holds a
single symlink, ``coopshell -> ../tree/coopshell``. The worker runs with that
directory as its working directory and first on ``PYTHONPATH`` (then the
repository root, for ``bench``), so ``import coopshell`` finds ``REV``'s copy
before the editable install's path entry, and so do the scenario's child
processes (kernels, shells, client processes), which inherit both. The
worker checks ``coopshell.__file__`` afterwards and reports an error if the
wrong copy was measured.

Remove a checkout with ``git worktree remove bench/out/baseline-<sha>/tree``
(or delete ``bench/out/`` and run ``git worktree prune``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Baseline", "prepare", "ENV_PATH"]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

#: Set in the worker's environment: the directory whose ``coopshell`` it must import.
ENV_PATH = "BENCH_COOPSHELL_PATH"


@dataclass(frozen=True)
class Baseline:
    """A checkout of coopshell at ``rev`` (``sha`` once resolved)."""

    rev: str
    sha: str
    tree: Path   # the git worktree
    path: Path   # the directory to put first on sys.path (holds the coopshell symlink)

    @property
    def impl(self) -> str:
        """The column's name: ``coopshell@REV``."""
        return f"coopshell@{self.rev}"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          timeout=120)


def prepare(rev: str) -> Baseline:
    """Resolve ``rev``, check it out under ``bench/out/`` if not done yet, and
    return the :class:`Baseline`. Raises ``ValueError`` with git's message if
    ``rev`` names no commit or the checkout fails."""
    got = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    sha = got.stdout.strip()
    if got.returncode != 0 or not sha:
        raise ValueError(f"--baseline {rev!r}: not a commit in {ROOT} "
                         f"(expected a branch, tag or sha that `git rev-parse` knows)")
    base = OUT / f"baseline-{sha[:12]}"
    tree, path = base / "tree", base / "path"
    if not (tree / "coopshell" / "__init__.py").is_file():
        base.mkdir(parents=True, exist_ok=True)
        _git("worktree", "prune")
        added = _git("worktree", "add", "--detach", "--force", str(tree), sha)
        if added.returncode != 0:
            raise ValueError(f"--baseline {rev!r}: `git worktree add` failed: "
                             f"{added.stderr.strip() or added.stdout.strip()}")
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                          text=True, timeout=60).stdout.strip()
    if head != sha:
        raise ValueError(f"--baseline {rev!r}: {tree} is at {head or 'no commit'}, expected "
                         f"{sha}; remove it (git worktree remove --force {tree}) and re-run")
    if not (tree / "coopshell" / "__init__.py").is_file():
        raise ValueError(f"--baseline {rev!r}: commit {sha[:12]} has no coopshell package")
    path.mkdir(exist_ok=True)
    link = path / "coopshell"
    if not link.is_symlink():
        os.symlink(os.path.join("..", "tree", "coopshell"), link)
    return Baseline(rev, sha, tree, path)
