"""The shell session: the prompt, running input, the interrupt policy, setup and teardown.

How input runs:

- A statement runs synchronously in the main greenlet. Blocking at top level
  (``g.join()``, ``co.sleep(3)``, a cooperative socket call) switches into the
  hub, which runs until the wait ends; asyncio is paused meanwhile.
- Input containing top-level ``await`` is awaited as a task on the same loop,
  with greenlets running.
- Lines starting with ``%`` are magics (:mod:`coopshell.interactive.magics`,
  plus the shell's ``%time`` and ``%timeit``); ``obj?``, ``!cmd`` and
  ``x = !cmd`` are the IPython habits of :mod:`.habits`.

Ctrl-C follows :mod:`coopshell.interactive.interrupt` (the policy's mode is
"prompt", "exec", "await" or "idle"). Tracebacks are cut to the user's
frames; errors of background greenlets go through
:class:`~coopshell.interactive.errors.ErrorReporter`.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import sys
import traceback
import types
from typing import Any

import coopshell
from coopshell import progress as _progress

from .. import bridge as _bridge
from .. import errors as _errors
from .. import magics as _magics
from .. import tagging as _tagging
from ..bars import PromptBars
from ..interrupt import get_policy
from ..magics.describe import function_text
from ..watchdog import get_detector
from . import habits as _habits
from .compile import INPUT_PREFIX, compile_input, input_complete
from .completion import NamespaceCompleter

__all__ = ["Shell", "HISTORY_ENV", "DEFAULT_HISTORY", "EXIT_KILL_TIMEOUT", "SHELL_MODULES"]

HISTORY_ENV = "COOPSHELL_HISTORY"
DEFAULT_HISTORY = "~/.coopshell_history"
#: Seconds the exit waits for live greenlets to die after being killed.
EXIT_KILL_TIMEOUT = 1.0
#: Module prefixes of the shell's own machinery (``%monkey`` reports them apart).
SHELL_MODULES = ("prompt_toolkit", "pygments", "wcwidth")

_CO_COROUTINE = 0x80   # inspect.CO_COROUTINE, without importing inspect at start-up


class Shell:
    """The interactive session. ``await shell.run()`` on a loop from
    :func:`coopshell.interactive.bridge.new_event_loop`, passing its selector
    (any asyncio loop works; that one needs no private hook)."""

    def __init__(self, namespace: dict | None = None, history: str | None = None,
                 blocking_threshold: float | None = 0.5, interactive: bool = True,
                 tag: bool | None = None,
                 selector: _bridge.BridgeSelector | None = None):
        self.hub = coopshell.get_hub()
        if namespace is None:
            # A real __main__ module, so functions defined at the prompt pickle
            # (multiprocessing, copy) as they do in the standard REPL.
            main_mod = types.ModuleType("__main__", "The coopshell shell's namespace.")
            sys.modules["__main__"] = main_mod
            namespace = main_mod.__dict__
        self.namespace: dict = namespace
        self.namespace.setdefault("__name__", "__main__")
        self.namespace.setdefault("__builtins__", builtins)
        self.namespace.setdefault("co", coopshell)
        for name in ("spawn", "joinall", "sleep"):
            self.namespace.setdefault(name, getattr(coopshell, name))
        if history is None:
            history = os.environ.get(HISTORY_ENV) or DEFAULT_HISTORY
        self.history_path = os.path.expanduser(history)
        self.blocking_threshold = blocking_threshold
        #: False when input is piped: no prompt_toolkit, read like ``python -i``.
        self.interactive = interactive
        #: Start with ``%tag on`` (None: ``$COOPSHELL_TAG`` decides).
        self.tag = tag
        #: Progress bars drawn in the prompt's message (see :mod:`..bars`).
        self.bars = PromptBars(lambda: self.session.app if self.session is not None else None)
        #: The BridgeSelector the caller built the loop on, if any.
        self.selector = selector
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bridge: _bridge.Bridge | None = None
        self.session: Any = None
        self.reporter: _errors.ErrorReporter | None = None
        self.policy = get_policy(self.hub)
        self._counter = 0
        self._exit_code: int | None = None

    # -- running --------------------------------------------------------------------

    async def run(self) -> int:
        """Run the prompt until Ctrl-D or ``exit()``; returns the exit status."""
        self.loop = asyncio.get_running_loop()
        self._setup()
        try:
            if self.interactive:
                from prompt_toolkit.patch_stdout import patch_stdout
                print(self.banner(), flush=True)
                with patch_stdout(raw=True):
                    self._start_tagging()
                    try:
                        await self._repl()
                        self._shutdown_greenlets()
                    finally:
                        _tagging.disable()
            else:
                print(self.banner(), file=sys.stderr, flush=True)
                self._start_tagging()
                await self._piped_repl()
                self._shutdown_greenlets()
        finally:
            _tagging.disable()
            self._teardown()
        return self._exit_code or 0

    def _start_tagging(self) -> None:
        try:
            on = _tagging.wanted(self.tag)
        except ValueError as exc:
            print(f"coopshell: {exc}; tagged output stays off", file=sys.stderr)
            return
        if on:
            _tagging.enable()

    def banner(self) -> str:
        """The one-line greeting."""
        return (f"coopshell {coopshell.__version__} on Python {sys.version.split()[0]}: "
                f"co, spawn, joinall, sleep are ready; %help lists the magics")

    async def _repl(self) -> None:
        policy = self.policy
        while self._exit_code is None:
            policy.mode = "prompt"
            try:
                text = await self.session.prompt_async(handle_sigint=False)
            except KeyboardInterrupt:
                continue          # Ctrl-C at the prompt clears the line
            except EOFError:
                break
            finally:
                policy.mode = "idle"
            await self._run_input(text)

    async def _piped_repl(self) -> None:
        """Input that is not a terminal, read like ``python -i``: prompts on
        stderr, one complete input at a time, greenlets running between reads."""
        policy = self.policy
        readline = sys.stdin.readline
        buf = ""
        while self._exit_code is None:
            sys.stderr.write("... " if buf else ">>> ")
            sys.stderr.flush()
            policy.mode = "prompt"
            try:
                line = await self.loop.run_in_executor(None, readline)
            finally:
                policy.mode = "idle"
            if not line:
                if buf.strip():
                    await self._run_input(buf)
                sys.stderr.write("\n")
                break
            buf += line
            if "\n" in buf.rstrip("\n"):
                done = not line.strip()          # a block ends at a blank line, as in python -i
            else:
                done = input_complete(buf.rstrip("\n"))
            if done:
                text, buf = buf, ""
                await self._run_input(text.rstrip("\n"))

    async def _run_input(self, text: str) -> None:
        if not text.strip():
            return
        try:
            await self.execute(text)
        except SystemExit as exc:
            self._exit_code = _errors.exit_status(exc)
        finally:
            self.bridge.wake()   # whatever the input scheduled runs now

    async def execute(self, source: str) -> None:
        """Run one input: a magic, a habit, or Python code (echoing an expression's value)."""
        stripped = source.strip()
        if stripped.startswith("%"):
            self._run_magic(stripped)
            return
        habit = _habits.parse(source)
        if habit is not None:
            self._run_habit(*habit)
            return
        self._counter += 1
        try:
            body, expr = compile_input(source, self._counter)
        except (SyntaxError, ValueError, OverflowError) as exc:
            self._print_exception(exc, syntax=True)
            return
        try:
            await self._run_code(body)
            if expr is not None:
                value = await self._run_code(expr)
                self._display(value)
        except SystemExit:
            raise
        except BaseException as exc:   # KeyboardInterrupt included: back to the prompt
            self._print_exception(exc)

    def _display(self, value: Any) -> None:
        if value is not None:
            self.namespace["_"] = value
            sys.displayhook(value)

    async def _run_code(self, code: Any) -> Any:
        if code.co_flags & _CO_COROUTINE:
            coro = eval(code, self.namespace)
            return await self._await_foreground(coro)
        self.policy.mode = "exec"
        try:
            return eval(code, self.namespace)
        finally:
            self.policy.mode = "idle"

    async def _await_foreground(self, coro: Any) -> Any:
        policy = self.policy
        task = self.loop.create_task(coro)
        policy.foreground = self.bridge.foreground = task
        policy.interrupted = False
        policy.mode = "await"
        try:
            return await task
        except asyncio.CancelledError as exc:
            if policy.interrupted or task.cancelled():
                # Keep the task's traceback: it ends in the user's pending await.
                raise KeyboardInterrupt().with_traceback(exc.__traceback__) from None
            raise
        finally:
            policy.mode = "idle"
            policy.foreground = self.bridge.foreground = None

    def _run_magic(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        if name in _habits.SHELL_MAGICS:
            self._run_shell_magic(name, arg)
            return

        self.policy.mode = "exec"
        try:
            out = _magics.run_magic(line)
        except _magics.MagicError as exc:
            print(str(exc), file=sys.stderr)
            return
        except KeyboardInterrupt:
            print("\nKeyboardInterrupt", file=sys.stderr)
            self._print_hint()
            return
        except Exception as exc:
            print(f"%{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        finally:
            self.policy.mode = "idle"
        if out:
            if name == "joinall" and self.interactive:
                out = "\r" + out + "\x1b[K"
            print(out)

    def _run_shell_magic(self, name: str, arg: str) -> None:
        self.policy.mode = "exec"
        try:
            if name == "time":
                value, line = _habits.time_statement(arg, self.namespace)
                print(line)
                self._display(value)
            else:
                print(_habits.timeit_statement(arg, self.namespace))
        except SystemExit:
            raise
        except BaseException as exc:
            self._print_exception(exc)
        finally:
            self.policy.mode = "idle"

    def _run_habit(self, kind: str, payload: Any) -> None:
        self.policy.mode = "exec"
        try:
            if kind == "help":
                print(_habits.help_text(payload[0], self.namespace, payload[1]))
            elif kind == "system":
                _habits.run_system(payload)
            else:
                name, cmd = payload
                self.namespace[name] = _habits.capture_system(cmd)
        except SystemExit:
            raise
        except BaseException as exc:
            self._print_exception(exc)
        finally:
            self.policy.mode = "idle"

    # -- interrupts ------------------------------------------------------------------------

    def _exit_prompt(self) -> None:
        session = self.session
        if session is None:
            return
        app = session.app
        if app.is_running and not app.future.done():
            app.exit(exception=KeyboardInterrupt())

    def _on_pass_interrupt(self, exc: BaseException) -> None:
        if isinstance(exc, SystemExit):
            self._exit_code = _errors.exit_status(exc)
            if self.policy.mode == "prompt" and self.session is not None and self.session.app.is_running:
                self.session.app.exit(exception=EOFError())
            elif self.policy.mode == "await":
                self.policy.cancel_foreground()
            return
        if not self.policy.pass_interrupted(exc):
            print("KeyboardInterrupt (raised in a greenlet)", file=sys.stderr)

    # -- printing ---------------------------------------------------------------------------

    def _print_exception(self, exc: BaseException, syntax: bool = False) -> None:
        if syntax:
            text = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            tb = _errors.trim_traceback(exc.__traceback__, user_prefix=INPUT_PREFIX)
            text = "".join(traceback.format_exception(type(exc), exc, tb))
        sys.stderr.write(text)
        sys.stderr.flush()
        if isinstance(exc, KeyboardInterrupt):
            self._print_hint()

    def _print_hint(self) -> None:
        hint = self.policy.still_running_message()
        if hint:
            print(hint, file=sys.stderr, flush=True)

    # -- setup / teardown -------------------------------------------------------------------

    def _setup(self) -> None:
        self.bridge = _bridge.attach(self.loop, self.selector)
        self.bridge.interrupt_handler = self._on_pass_interrupt
        try:
            import coopshell.monkey as _monkey
            _monkey.INTERACTIVE = True
        except ImportError:
            pass
        _magics.enable_tracking()
        _magics.set_front_end_modules(SHELL_MODULES)
        if not any(line == _habits.HELP_LINES[0] for line in _magics.HELP_EXTRA):
            _magics.HELP_EXTRA.extend(_habits.HELP_LINES)
        policy = self.policy
        self.reporter = _errors.ErrorReporter(self.hub, self.loop, foreground=lambda: policy.foreground)
        self.hub.print_exception = self.reporter
        if self.blocking_threshold:
            det = get_detector(self.hub)
            det.threshold = self.blocking_threshold
            det.start()
        if self.interactive:
            self.session = self._make_session()
            _progress.set_default_renderer(self.bars)
        policy.loop = self.loop
        policy.on_prompt = self._exit_prompt
        policy.mode = "idle"
        policy.install()

    def _teardown(self) -> None:
        if self.interactive:
            _progress.set_default_renderer(None)
        self.policy.uninstall()
        self.policy.on_prompt = None
        det = getattr(self.hub, "blocking_detector", None)
        if det is not None:
            det.stop()
        if self.reporter is not None:
            if self.reporter.pending:
                self.reporter.flush()
            self.hub.__dict__.pop("print_exception", None)
        if self.bridge is not None:
            self.bridge.interrupt_handler = self.bridge._default_interrupt
            self.bridge.detach()

    def _shutdown_greenlets(self) -> None:
        alive = _magics.live_greenlets()
        if not alive:
            return
        names = ", ".join(f"{g.minimal_ident}:{function_text(g)}" for g in alive[:5])
        more = f" and {len(alive) - 5} more" if len(alive) > 5 else ""
        print(f"killing {len(alive)} live greenlet{'s' if len(alive) != 1 else ''}: {names}{more}",
              file=sys.stdout if self.interactive else sys.stderr)
        self.policy.mode = "exec"
        try:
            coopshell.killall(alive, timeout=EXIT_KILL_TIMEOUT)
        except coopshell.Timeout:
            left = [g for g in alive if not g.dead]
            print(f"{len(left)} greenlet(s) did not exit within {EXIT_KILL_TIMEOUT:g}s; leaving them")
        except KeyboardInterrupt:
            pass
        finally:
            self.policy.mode = "idle"

    def _make_session(self) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.completion import Completer
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        completer_impl = NamespaceCompleter(self.namespace,
                                            list(_magics.MAGICS) + list(_habits.SHELL_MAGICS))

        class _Completer(Completer):
            def get_completions(self, document, complete_event):
                return completer_impl.get_completions(document, complete_event)

        kb = KeyBindings()

        @kb.add("enter")
        def _enter(event: Any) -> None:
            buf = event.current_buffer
            if buf.complete_state is not None and buf.complete_state.current_completion is not None:
                buf.apply_completion(buf.complete_state.current_completion)
                return
            if input_complete(buf.text):
                buf.validate_and_handle()
            else:
                buf.insert_text("\n")

        lexer = None
        try:
            from prompt_toolkit.lexers import PygmentsLexer
            from pygments.lexers.python import PythonLexer
            lexer = PygmentsLexer(PythonLexer)
        except ImportError:  # pragma: no cover - pygments comes with IPython
            pass
        try:
            history = FileHistory(private_history_file(self.history_path))
        except OSError:  # pragma: no cover - unwritable home
            from prompt_toolkit.history import InMemoryHistory
            history = InMemoryHistory()
        bars = self.bars
        return PromptSession(
            lambda: bars.message(">>> "), multiline=True, key_bindings=kb, history=history, lexer=lexer,
            auto_suggest=AutoSuggestFromHistory(), completer=_Completer(),
            complete_while_typing=False, enable_history_search=False,
            prompt_continuation=lambda width, line, soft: "... ".rjust(width),
        )


def private_history_file(path: str) -> str:
    """Make sure the history file exists with mode 0600 (what is typed can hold
    tokens or passwords) and return its path; a wider existing mode is narrowed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path
