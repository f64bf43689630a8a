"""Tab completion in the shell: names and attributes of the namespace, and magic names."""

from __future__ import annotations

import re
import rlcompleter
from typing import Any, Iterable, Iterator

__all__ = ["NamespaceCompleter"]


class NamespaceCompleter:
    """Completes ``%mag`` to magic names and ``na`` / ``obj.at`` over ``namespace``."""

    _word = re.compile(r"[A-Za-z_][\w.]*$")
    _magic = re.compile(r"^\s*%(\w*)$")

    def __init__(self, namespace: dict, magic_names: Iterable[str] = ()):
        self.namespace = namespace
        self.magic_names = sorted(magic_names)

    def words(self, text_before_cursor: str) -> tuple[str, list[str]]:
        """``(word being completed, candidates)`` for the text before the cursor."""
        m = self._magic.search(text_before_cursor)
        if m is not None:
            word = m.group(1)
            return "%" + word, ["%" + n for n in self.magic_names if n.startswith(word)]
        m = self._word.search(text_before_cursor)
        if m is None:
            return "", []
        word = m.group()
        rl = rlcompleter.Completer(self.namespace)
        seen: dict[str, None] = {}
        for state in range(500):
            try:
                c = rl.complete(word, state)
            except Exception:
                break
            if c is None:
                break
            seen.setdefault(c.rstrip("("), None)
        return word, list(seen)

    def get_completions(self, document: Any, complete_event: Any) -> Iterator[Any]:
        from prompt_toolkit.completion import Completion
        word, candidates = self.words(document.text_before_cursor)
        for c in candidates:
            yield Completion(c, -len(word))
