"""The shell's history file is private: what is typed can hold secrets."""

from __future__ import annotations

import os
import stat

from coopshell.interactive.shell.session import private_history_file


def test_new_history_file_is_created_0600(tmp_path):
    p = tmp_path / "hist"
    assert private_history_file(str(p)) == str(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_existing_world_readable_history_is_narrowed_and_kept(tmp_path):
    p = tmp_path / "hist"
    p.write_text("# old entry\n")
    os.chmod(p, 0o644)
    private_history_file(str(p))
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert p.read_text() == "# old entry\n"
