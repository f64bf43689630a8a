"""Helpers for tests that drive real Jupyter kernels through jupyter_client."""

from __future__ import annotations

import os
import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from jupyter_client.manager import KernelManager

VENV_BIN = os.path.dirname(sys.executable)


def kernel_env() -> dict[str, str]:
    """The environment for kernels: the venv's bin first on PATH, no stray IPython config."""
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONSTARTUP", None)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


@dataclass
class Result:
    msg_id: str
    reply: dict
    messages: list = field(default_factory=list)   # iopub messages with this parent

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    @property
    def ename(self) -> str | None:
        return self.reply["content"].get("ename")

    def stream(self, name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def data(self, mime: str = "text/plain") -> list[str]:
        return [m["content"]["data"][mime] for m in self.messages
                if m["msg_type"] in ("execute_result", "display_data", "update_display_data")
                and mime in m["content"]["data"]]

    @property
    def text(self) -> str:
        out = self.data()
        return out[-1] if out else ""


class Kernel:
    """A running kernel and a client that records every iopub message."""

    def __init__(self, kernel_name: str = "coopshell", stderr: Any = None,
                 extra_arguments: list[str] | None = None):
        self.km = KernelManager(kernel_name=kernel_name)
        kw: dict[str, Any] = {"env": kernel_env()}
        if extra_arguments:
            kw["extra_arguments"] = extra_arguments
        if stderr is not None:
            kw["stderr"] = stderr
        self.km.start_kernel(**kw)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict] = []
        self._idle: set[str] = set()
        self.pid = int(self.execute("import os; os.getpid()").text)

    # -- iopub ---------------------------------------------------------------------

    def pump(self, timeout: float = 0.05) -> bool:
        """Read one iopub message into ``self.iopub``; False on timeout."""
        try:
            msg = self.kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return False
        self.iopub.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            self._idle.add(msg["parent_header"].get("msg_id"))
        return True

    def wait_for(self, pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self.pump(0.05)

    def messages_for(self, msg_id: str) -> list[dict]:
        return [m for m in self.iopub if m["parent_header"].get("msg_id") == msg_id]

    def streams(self, text: str) -> list[dict]:
        """Stream messages containing ``text``."""
        return [m for m in self.iopub if m["msg_type"] == "stream" and text in m["content"]["text"]]

    # -- execution -------------------------------------------------------------------

    def submit(self, code: str) -> str:
        return self.kc.execute(code, store_history=False)

    def finish(self, msg_id: str, timeout: float = 20.0) -> Result:
        """Wait for the reply and the idle status of ``msg_id``."""
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        self.wait_for(lambda: msg_id in self._idle, timeout, f"idle after {msg_id}")
        return Result(msg_id, reply, self.messages_for(msg_id))

    def execute(self, code: str, timeout: float = 20.0) -> Result:
        return self.finish(self.submit(code), timeout)

    def ok(self, code: str, timeout: float = 20.0) -> Result:
        """Execute ``code``; fail the test with the kernel's traceback if it errs."""
        r = self.execute(code, timeout)
        if r.status != "ok":
            tb = "\n".join(r.reply["content"].get("traceback", []))
            raise AssertionError(f"cell failed: {code!r}\n{tb}")
        return r

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.is_alive():
                self.km.shutdown_kernel(now=False)
