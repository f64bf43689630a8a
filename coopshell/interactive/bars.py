"""Where the front ends draw :mod:`coopshell.progress` bars.

- :class:`PromptBars`, the coopshell shell: while the prompt waits for keys,
  each live bar is one line of the prompt's message, just above ``>>>``.
  prompt_toolkit redraws the message on ``invalidate()`` and keeps the input
  buffer apart, so a redraw never touches what is being typed. While a
  statement runs (no prompt on screen) a bar is redrawn in place on stdout
  with a carriage return, as in a script. A finished bar is printed once as
  a normal line above the prompt (unless ``transient``).
- :class:`DisplayBar`, Jupyter (the coopshell kernel and the IPython
  extension in any kernel): one display, created at the first redraw with a
  ``display_id`` and updated in place (``update_display_data``), HTML with a
  ``<progress>`` element and a text/plain fallback. Redraws come from a hub
  timer; each runs in a copy of the context the bar was made in, so the
  display lands in the cell that started the sweep.

- :class:`TerminalBar`, terminal IPython: the script's stderr bar while a
  cell runs; while IPython's prompt is on screen no redraw (a carriage
  return would land in the prompt line), and the final line is printed
  through prompt_toolkit's ``run_in_terminal``, above the prompt.

All are renderer factories for :func:`coopshell.progress.set_default_renderer`.
"""

from __future__ import annotations

import contextvars
import os
import sys
from typing import Any, Callable

from ..progress import Progress, StreamBar

__all__ = ["PromptBars", "DisplayBar", "display_bar", "TerminalBar", "terminal_bars"]


class PromptBars:
    """The live bars of one shell, shown in its prompt's message.

    ``app()`` returns the prompt_toolkit application, or None when there is
    no prompt (piped input).
    """

    def __init__(self, app: Callable[[], Any]):
        self._app = app
        self.active: list[_PromptBar] = []

    def __call__(self, p: Progress) -> _PromptBar:
        return _PromptBar(self)

    def prompt_running(self) -> bool:
        app = self._app()
        return app is not None and app.is_running

    def message(self, prompt: str) -> str:
        """The prompt's text: one line per live bar drawn there, then ``prompt``."""
        lines = [b.text for b in self.active if b.text]
        if not lines:
            return prompt
        return "\n".join(lines) + "\n" + prompt

    def invalidate(self) -> None:
        app = self._app()
        if app is not None and app.is_running:
            app.invalidate()


class _PromptBar:
    def __init__(self, owner: PromptBars):
        self.owner = owner
        self.text = ""          # the line shown in the prompt's message
        self.inline = 0         # width of the line drawn in place on stdout

    def update(self, p: Progress) -> None:
        owner = self.owner
        if owner.prompt_running():
            self._end_inline()
            self.text = p.format()
            if self not in owner.active:
                owner.active.append(self)
            owner.invalidate()
        else:
            self._leave_prompt()
            self._draw_inline(p.format(), end="")

    def close(self, p: Progress) -> None:
        self._leave_prompt()
        keep = not (p.transient and p.finished)
        if self.inline:
            if keep:
                self._draw_inline(p.format(), end="\n")
            else:
                self._draw_inline("", end="\r")
            self.inline = 0
        elif keep:
            # Above the prompt (the shell's stdout proxy keeps the prompt intact).
            sys.stdout.write(p.format() + "\n")
            sys.stdout.flush()

    def _leave_prompt(self) -> None:
        owner = self.owner
        if self in owner.active:
            owner.active.remove(self)
            self.text = ""
            owner.invalidate()

    def _draw_inline(self, text: str, end: str) -> None:
        out = sys.stdout
        out.write("\r" + text + "\x1b[K" + end)
        out.flush()
        self.inline = len(text) or 1

    def _end_inline(self) -> None:
        if self.inline:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.inline = 0


class DisplayBar:
    """A Jupyter display updated in place; see the module docstring."""

    def __init__(self, p: Progress):
        self.context = contextvars.copy_context()
        self.display_id = os.urandom(16).hex()   # uuid4-like; no uuid import at start-up
        self.shown = False

    def update(self, p: Progress) -> None:
        self.context.run(self._show, p)

    def close(self, p: Progress) -> None:
        self.context.run(self._show, p)

    def _show(self, p: Progress) -> None:
        from IPython.display import display, update_display

        from .html import progress_html

        text = p.format()
        data = {"text/plain": text, "text/html": progress_html(text)}
        if self.shown:
            update_display(data, raw=True, display_id=self.display_id)
        else:
            self.shown = True
            display(data, raw=True, display_id=self.display_id)


def display_bar(p: Progress) -> DisplayBar:
    """The renderer factory of the Jupyter front ends."""
    return DisplayBar(p)


class TerminalBar(StreamBar):
    """A stderr bar that stays quiet while IPython's prompt is on screen."""

    def __init__(self, stream: Any, app: Callable[[], Any]):
        super().__init__(stream)
        self._app = app

    def _prompt_app(self) -> Any:
        app = self._app()
        return app if app is not None and app.is_running else None

    def update(self, p: Progress) -> None:
        if self._prompt_app() is None:
            super().update(p)

    def close(self, p: Progress) -> None:
        if self._prompt_app() is None:
            super().close(p)
            return
        if p.transient and p.finished:
            return
        from prompt_toolkit.application import run_in_terminal

        text = p.format()
        self._width = 0

        def show() -> None:
            self.stream.write(text + "\n")
            self.stream.flush()

        run_in_terminal(show, in_executor=False)


def terminal_bars(shell: Any) -> Callable[[Progress], TerminalBar | None]:
    """The renderer factory of terminal IPython ``shell``: a :class:`TerminalBar`
    on stderr when it is a terminal, else none (as in a script)."""
    def factory(p: Progress) -> TerminalBar | None:
        stream = sys.stderr
        isatty = getattr(stream, "isatty", None)
        if stream is None or isatty is None or not isatty():
            return None
        return TerminalBar(stream, lambda: getattr(getattr(shell, "pt_app", None), "app", None))
    return factory
