"""Helpers for the kernel scenarios: real kernels through jupyter_client.

Imports no implementation: the kernels run in their own processes (the
``coopshell`` kernelspec, and the stock ``python3`` ipykernel as reference).
"""

from __future__ import annotations

__all__ = ["start", "stop", "execute"]


def start(name: str):
    """Start kernel ``name``; return ``(manager, client)`` once it answers."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def stop(km, kc) -> None:
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def execute(kc, code: str, timeout: float = 30.0) -> dict:
    """Run ``code``; return the reply once the kernel is idle again (what a
    front end waits for before it runs the next cell)."""
    msg_id = kc.execute(code, store_history=False)
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return reply
