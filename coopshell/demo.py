"""``python -m coopshell.demo``: spawn greenlets, wait for them, show results."""

from __future__ import annotations

import time

import coopshell as co


def _fetch(n: int) -> int:
    co.sleep(0.1 * (n % 3))   # pretend to wait on the network
    return n * n


def main() -> None:
    start = time.monotonic()
    jobs = [co.spawn(_fetch, n) for n in range(10)]
    failing = co.spawn(int, "not a number")
    done = co.joinall(jobs + [failing], timeout=2)
    elapsed = time.monotonic() - start
    print(f"{len(done)} greenlets finished in {elapsed:.2f}s (sequentially: ~1.0s)")
    print("values:", [j.value for j in jobs])
    print("failing greenlet:", failing.exception.__class__.__name__, failing.exception)


if __name__ == "__main__":
    main()
