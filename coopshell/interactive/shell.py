"""The coopshell shell: a Python prompt where greenlets keep running.

``coopshell`` (or ``python -m coopshell``) starts a prompt_toolkit
``PromptSession`` on an asyncio loop that drives the hub through the bridge
(:mod:`coopshell.interactive.bridge`), so background greenlets run while you
are idle or typing, and their output is printed above the prompt
(``patch_stdout``), never inside the line being edited.

How input runs:

- A statement runs synchronously in the main greenlet. Blocking at top level
  (``g.join()``, ``co.sleep(3)``, a cooperative socket call) switches into the
  hub, which runs until the wait ends; asyncio is paused meanwhile.
- Input containing top-level ``await`` is compiled with
  ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and awaited as a task on the same loop,
  with greenlets running.
- Lines starting with ``%`` are magics (:mod:`coopshell.interactive.magics`).

Ctrl-C: the shell installs its own SIGINT handler. If the main greenlet is
running user code, it raises ``KeyboardInterrupt`` there. If the hub or a
greenlet is running (the main greenlet is parked in a foreground wait), it
does not raise in them: it asks the hub (thread-safe wakeup) to throw
``KeyboardInterrupt`` into the main greenlet's wait, so background greenlets
and the hub go on. Tracebacks are cut to the user's own frames.

Errors of background greenlets are printed by the hub through
:class:`ErrorReporter`, which prints the first few of a burst in full and then
summarises (``… and 9995 more greenlets failed with ZeroDivisionError``).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
import linecache
import os
import re
import rlcompleter
import signal as _signal
import sys
import traceback
import types
from collections import Counter
from time import monotonic as _monotonic
from typing import Iterable

from greenlet import getcurrent as _getcurrent

import coopshell

from . import bridge as _bridge
from . import magics as _magics
from .watchdog import get_detector

__all__ = ["Shell", "ErrorReporter", "main", "HISTORY_ENV", "DEFAULT_HISTORY"]

HISTORY_ENV = "COOPSHELL_HISTORY"
DEFAULT_HISTORY = "~/.coopshell_history"
#: Seconds the exit waits for live greenlets to die after being killed.
EXIT_KILL_TIMEOUT = 1.0

_CO_COROUTINE = inspect.CO_COROUTINE
_AWAIT_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_INPUT_PREFIX = "<coopshell-input-"
_signal_signal = _signal.signal
_getsignal = _signal.getsignal


class ErrorReporter:
    """Replaces ``hub.print_exception``: prints the first ``burst`` failures
    of a storm in full, then counts the rest per exception type and prints
    one summary line each."""

    def __init__(self, hub, loop: asyncio.AbstractEventLoop | None = None, burst: int = 5,
                 window: float = 1.0, delay: float = 0.5):
        self.hub = hub
        self.loop = loop
        self.burst = burst
        self.window = window
        self.delay = delay
        self._window_start = 0.0
        self._count = 0
        self._suppressed: Counter[str] = Counter()
        self._flush_handle = None

    def __call__(self, context, type, value, tb) -> None:
        now = _monotonic()
        if not self._suppressed and now - self._window_start > self.window:
            self._window_start = now
            self._count = 0
        if self._count < self.burst:
            self._count += 1
            try:
                ctx = repr(context)
            except Exception as exc:
                ctx = f"<{type(context).__name__} (repr failed: {exc!r})>"
            text = "".join(traceback.format_exception(type, value, tb))
            self._write(f"{text}{ctx} failed with {type.__name__}\n")
            return
        self._suppressed[type.__name__] += 1
        if self._flush_handle is None:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                self._flush_handle = loop.call_later(self.delay, self.flush)
            else:
                self._flush_handle = self.hub.loop.add_timer(self.delay, self.flush, ref=False)

    def flush(self) -> None:
        """Print the summary of suppressed failures now."""
        self._flush_handle = None
        counts, self._suppressed = self._suppressed, Counter()
        self._window_start = _monotonic()
        self._count = 0
        lines = [f"… and {n} more greenlet{'s' if n != 1 else ''} failed with {name}\n"
                 for name, n in counts.items()]
        if lines:
            self._write("".join(lines))

    def _write(self, text):
        stream = self.hub.exception_stream
        try:
            stream.write(text)
            stream.flush()
        except Exception:
            sys.__stderr__.write(text)


class _NamespaceCompleter:
    """Tab completion of names and attributes over the shell's namespace."""

    _word = re.compile(r"[A-Za-z_][\w.]*$")

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def get_completions(self, document, complete_event):
        from prompt_toolkit.completion import Completion
        m = self._word.search(document.text_before_cursor)
        if m is None:
            return
        word = m.group()
        rl = rlcompleter.Completer(self.namespace)
        seen = set()
        for state in range(500):
            try:
                c = rl.complete(word, state)
            except Exception:
                return
            if c is None:
                return
            c = c.rstrip("(")
            if c not in seen:
                seen.add(c)
                yield Completion(c, -len(word))


class Shell:
    """The interactive session. ``await shell.run()`` on a fresh asyncio loop."""

    def __init__(self, namespace: dict | None = None, history: str | None = None,
                 blocking_threshold: float | None = 0.5):
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
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bridge: _bridge.Bridge | None = None
        self.session = None
        self.reporter: ErrorReporter | None = None
        self._mode = "idle"            # "prompt", "exec", "await"
        self._foreground: asyncio.Task | None = None
        self._interrupted = False
        self._counter = 0
        self._exit_code: int | None = None
        self._old_sigint = None

    # -- running --------------------------------------------------------------------

    async def run(self) -> int:
        """Run the prompt until Ctrl-D or ``exit()``; returns the exit status."""
        from prompt_toolkit.patch_stdout import patch_stdout
        self.loop = asyncio.get_running_loop()
        self._setup()
        try:
            print(self.banner(), flush=True)
            with patch_stdout(raw=True):
                await self._repl()
                self._shutdown_greenlets()
        finally:
            self._teardown()
        return self._exit_code or 0

    def banner(self) -> str:
        """The one-line greeting."""
        return (f"coopshell {coopshell.__version__} on Python {sys.version.split()[0]}: "
                f"co, spawn, joinall, sleep are ready; magics: %monkey %greenlets %kill "
                f"%joinall %blocking %help")

    async def _repl(self):
        while self._exit_code is None:
            self._mode = "prompt"
            try:
                text = await self.session.prompt_async(handle_sigint=False)
            except KeyboardInterrupt:
                continue          # Ctrl-C at the prompt clears the line
            except EOFError:
                break
            finally:
                self._mode = "idle"
            if not text.strip():
                continue
            try:
                await self.execute(text)
            except SystemExit as exc:
                self._exit_code = _exit_status(exc)
            finally:
                self.bridge.wake()   # whatever the input scheduled runs now

    async def execute(self, source: str) -> None:
        """Run one input: a magic, or Python code (echoing an expression's value)."""
        if source.lstrip().startswith("%"):
            self._run_magic(source.strip())
            return
        self._counter += 1
        filename = f"{_INPUT_PREFIX}{self._counter}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            tree = ast.parse(source, filename, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = tree.body.pop()
            body = compile(tree, filename, "exec", flags=_AWAIT_FLAGS, dont_inherit=True)
            expr = (compile(ast.Expression(last.value), filename, "eval", flags=_AWAIT_FLAGS,
                            dont_inherit=True) if last is not None else None)
        except (SyntaxError, ValueError, OverflowError) as exc:
            self._print_exception(exc, syntax=True)
            return
        try:
            await self._run_code(body)
            if expr is not None:
                value = await self._run_code(expr)
                if value is not None:
                    self.namespace["_"] = value
                    sys.displayhook(value)
        except SystemExit:
            raise
        except BaseException as exc:   # KeyboardInterrupt included: back to the prompt
            self._print_exception(exc)

    async def _run_code(self, code):
        if code.co_flags & _CO_COROUTINE:
            coro = eval(code, self.namespace)
            return await self._await_foreground(coro)
        self._mode = "exec"
        try:
            return eval(code, self.namespace)
        finally:
            self._mode = "idle"

    async def _await_foreground(self, coro):
        task = self.loop.create_task(coro)
        self._foreground = self.bridge.foreground = task
        self._interrupted = False
        self._mode = "await"
        try:
            return await task
        except asyncio.CancelledError as exc:
            if self._interrupted or task.cancelled():
                # Keep the task's traceback: it ends in the user's pending await.
                raise KeyboardInterrupt().with_traceback(exc.__traceback__) from None
            raise
        finally:
            self._mode = "idle"
            self._foreground = self.bridge.foreground = None

    def _run_magic(self, line: str) -> None:
        def progress(text):
            sys.stdout.write("\r" + text + "\x1b[K")
            sys.stdout.flush()
        self._mode = "exec"
        try:
            out = _magics.run_magic(line, progress=progress)
        except _magics.MagicError as exc:
            print(str(exc), file=sys.stderr)
            return
        except KeyboardInterrupt:
            print("\nKeyboardInterrupt", file=sys.stderr)
            return
        except Exception as exc:
            name = line.split()[0]
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        finally:
            self._mode = "idle"
        if out:
            if line.lstrip("%").startswith("joinall"):
                out = "\r" + out + "\x1b[K"
            print(out)

    # -- interrupts ------------------------------------------------------------------------

    def _on_sigint(self, signum, frame):
        main = self.hub.parent
        if _getcurrent() is not main:
            # The hub or a greenlet runs while the main greenlet waits: never
            # raise in them; have the hub throw into the main greenlet's wait.
            self.hub.loop.run_callback_threadsafe(self._interrupt_main)
            return
        mode = self._mode
        if mode == "exec":
            raise KeyboardInterrupt
        if mode == "await":
            self._interrupted = True
            self.loop.call_soon_threadsafe(self._cancel_foreground)
            return
        if mode == "prompt" and self.session is not None and self.session.app.is_running:
            self.loop.call_soon_threadsafe(self._exit_prompt)

    def _exit_prompt(self):
        app = self.session.app
        if app.is_running and not app.future.done():
            app.exit(exception=KeyboardInterrupt())

    def _cancel_foreground(self):
        task = self._foreground
        if task is not None and not task.done():
            task.cancel()

    def _interrupt_main(self):
        # Runs in the hub. Only a parked main greenlet (a foreground wait) is
        # thrown into; during a bridge pass the main greenlet is in the bridge.
        if self.bridge is not None and self.bridge._in_pass:
            if self._mode == "await":
                self._interrupted = True
                self._cancel_foreground()
            return
        mode = self._mode
        main = self.hub.parent
        if mode == "exec":
            main.throw(KeyboardInterrupt())
        elif mode == "await":
            self._interrupted = True
            main.throw(asyncio.CancelledError())

    def _on_pass_interrupt(self, exc: BaseException) -> None:
        if isinstance(exc, SystemExit):
            self._exit_code = _exit_status(exc)
            if self._mode == "prompt" and self.session.app.is_running:
                self.session.app.exit(exception=EOFError())
            elif self._mode == "await":
                self._cancel_foreground()
            return
        if self._mode == "await":
            self._interrupted = True
            self._cancel_foreground()
        else:
            print("KeyboardInterrupt (raised in a greenlet)", file=sys.stderr)

    # -- printing ---------------------------------------------------------------------------

    def _print_exception(self, exc: BaseException, syntax: bool = False) -> None:
        if syntax:
            text = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            text = "".join(traceback.format_exception(type(exc), exc, _user_tb(exc.__traceback__)))
        sys.stderr.write(text)
        sys.stderr.flush()

    # -- setup / teardown -------------------------------------------------------------------

    def _setup(self):
        self.bridge = _bridge.attach(self.loop)
        self.bridge.interrupt_handler = self._on_pass_interrupt
        try:
            import coopshell.monkey as _monkey
            _monkey.INTERACTIVE = True
        except ImportError:
            pass
        _magics.enable_tracking()
        self.reporter = ErrorReporter(self.hub, self.loop)
        self.hub.print_exception = self.reporter
        if self.blocking_threshold:
            det = get_detector(self.hub)
            det.threshold = self.blocking_threshold
            det.start()
        self.session = self._make_session()
        self._old_sigint = _getsignal(_signal.SIGINT)
        _signal_signal(_signal.SIGINT, self._on_sigint)

    def _teardown(self):
        if self._old_sigint is not None:
            try:
                _signal_signal(_signal.SIGINT, self._old_sigint)
            except (TypeError, ValueError):
                pass
        det = getattr(self.hub, "blocking_detector", None)
        if det is not None:
            det.stop()
        if self.reporter is not None:
            if self.reporter._suppressed:
                self.reporter.flush()
            self.hub.__dict__.pop("print_exception", None)
        if self.bridge is not None:
            self.bridge.interrupt_handler = self.bridge._default_interrupt
            self.bridge.detach()

    def _shutdown_greenlets(self):
        alive = _magics.live_greenlets()
        if not alive:
            return
        names = ", ".join(f"{g.minimal_ident}:{g._formatinfo()}" for g in alive[:5])
        more = f" and {len(alive) - 5} more" if len(alive) > 5 else ""
        print(f"killing {len(alive)} live greenlet{'s' if len(alive) != 1 else ''}: {names}{more}")
        self._mode = "exec"
        try:
            coopshell.killall(alive, timeout=EXIT_KILL_TIMEOUT)
        except coopshell.Timeout:
            left = [g for g in alive if not g.dead]
            print(f"{len(left)} greenlet(s) did not exit within {EXIT_KILL_TIMEOUT:g}s; leaving them")
        except KeyboardInterrupt:
            pass
        finally:
            self._mode = "idle"

    def _make_session(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.completion import Completer
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        completer_impl = _NamespaceCompleter(self.namespace)

        class _Completer(Completer):
            def get_completions(self, document, complete_event):
                return completer_impl.get_completions(document, complete_event)

        kb = KeyBindings()

        @kb.add("enter")
        def _enter(event):
            buf = event.current_buffer
            if buf.complete_state is not None and buf.complete_state.current_completion is not None:
                buf.apply_completion(buf.complete_state.current_completion)
                return
            if _input_complete(buf.text):
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
            history = FileHistory(self.history_path)
        except OSError:  # pragma: no cover - unwritable home
            from prompt_toolkit.history import InMemoryHistory
            history = InMemoryHistory()
        return PromptSession(
            ">>> ", multiline=True, key_bindings=kb, history=history, lexer=lexer,
            auto_suggest=AutoSuggestFromHistory(), completer=_Completer(),
            complete_while_typing=False, enable_history_search=False,
            prompt_continuation=lambda width, line, soft: "... ".rjust(width),
        )


# -- helpers ----------------------------------------------------------------------------------

_compiler = None


def _input_complete(text: str) -> bool:
    """Like the standard REPL: is ``text`` a complete input (or a syntax error to show)?"""
    global _compiler
    if not text.strip() or text.lstrip().startswith("%"):
        return True
    if _compiler is None:
        import codeop
        _compiler = codeop.CommandCompiler()
        _compiler.compiler.flags |= _AWAIT_FLAGS
    last = text.rsplit("\n", 1)[-1]
    if "\n" in text and not last.strip():
        text = text[:len(text) - len(last)]   # a blank (or spaces-only) line ends a block
    try:
        return _compiler(text, "<input>", "single") is not None
    except (SyntaxError, ValueError, OverflowError):
        # "multiple statements" (a paste) is complete; a real error is shown
        return True


def _is_internal(frame) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name == "coopshell" or name.startswith("coopshell.")


def _user_tb(tb):
    """Cut a traceback to the user's frames: drop the shell's frames before
    the first input frame and the runtime's frames after the last user frame."""
    entries = []
    t = tb
    while t is not None:
        entries.append(t)
        t = t.tb_next
    start = 0
    for i, e in enumerate(entries):
        if e.tb_frame.f_code.co_filename.startswith(_INPUT_PREFIX):
            start = i
            break
    else:
        while start < len(entries) - 1 and _is_internal(entries[start].tb_frame):
            start += 1
    entries = entries[start:]
    while len(entries) > 1 and (_is_internal(entries[-1].tb_frame)
                                or entries[-1].tb_frame.f_code.co_filename.startswith(
                                    os.path.dirname(asyncio.__file__))):
        entries.pop()
    if not entries:
        return None
    entries[-1].tb_next = None
    return entries[0]


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point of ``coopshell`` and ``python -m coopshell``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print("usage: coopshell\n\nAn interactive Python shell where coopshell greenlets keep running "
              "at the prompt.\nHistory: $COOPSHELL_HISTORY or ~/.coopshell_history. %help lists the magics.")
        return 0
    if argv:
        print(f"coopshell: unexpected arguments {' '.join(argv)!r} (try --help)", file=sys.stderr)
        return 2
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    shell = Shell()
    try:
        code = loop.run_until_complete(shell.run())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
    return code
