"""Compiling shell input: is it complete, and the code objects to run.

Input is compiled with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT``; the last
expression statement is compiled apart so its value can be echoed. Each input
gets its own file name (``<coopshell-input-N>``) registered in ``linecache``,
so tracebacks show the source and :func:`~coopshell.interactive.errors.trim_traceback`
can find where the user's frames start.
"""

from __future__ import annotations

import ast
import codeop
import linecache
from types import CodeType

__all__ = ["INPUT_PREFIX", "AWAIT_FLAGS", "input_complete", "compile_input"]

INPUT_PREFIX = "<coopshell-input-"
AWAIT_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

_compiler: codeop.CommandCompiler | None = None


def input_complete(text: str) -> bool:
    """Like the standard REPL: is ``text`` a complete input (or a syntax error to show)?"""
    global _compiler
    stripped = text.strip()
    if not stripped or stripped.startswith(("%", "!")) or _is_help_query(stripped):
        return True
    if _compiler is None:
        _compiler = codeop.CommandCompiler()
        _compiler.compiler.flags |= AWAIT_FLAGS
    last = text.rsplit("\n", 1)[-1]
    if "\n" in text and not last.strip():
        text = text[:len(text) - len(last)]   # a blank (or spaces-only) line ends a block
    try:
        return _compiler(text, "<input>", "single") is not None
    except (SyntaxError, ValueError, OverflowError):
        # "multiple statements" (a paste) is complete; a real error is shown
        return True


def _is_help_query(text: str) -> bool:
    return "\n" not in text and text.endswith("?") and text.rstrip("?").replace(".", "").isidentifier()


def compile_input(source: str, counter: int) -> tuple[CodeType, CodeType | None]:
    """``(body, last_expression_or_None)`` for input number ``counter``.

    Raises SyntaxError (ValueError, OverflowError) for input that does not compile.
    """
    filename = f"{INPUT_PREFIX}{counter}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
    body = compile(tree, filename, "exec", flags=AWAIT_FLAGS, dont_inherit=True)
    expr = None
    if last is not None:
        expr = compile(ast.Expression(last.value), filename, "eval", flags=AWAIT_FLAGS,
                       dont_inherit=True)
    return body, expr
