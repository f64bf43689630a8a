"""Timeout as exception and context manager; with_timeout."""

import time

import pytest

import coopshell as co
from coopshell import Timeout, with_timeout


def test_timeout_raises_itself():
    with pytest.raises(Timeout) as info:
        with Timeout(0.02) as t:
            co.sleep(1)
    assert info.value is t
    assert str(t) == "0.02 seconds"
    assert not t.pending


def test_silent_timeout_ends_block():
    t0 = time.monotonic()
    with Timeout(0.02, False):
        co.sleep(1)
    assert time.monotonic() - t0 < 0.5


def test_custom_exception():
    with pytest.raises(KeyError):
        with Timeout(0.01, KeyError("slow")):
            co.sleep(1)


def test_cancelled_timeout_never_fires():
    t = Timeout.start_new(0.02)
    t.cancel()
    co.sleep(0.05)
    t.cancel()  # idempotent


def test_start_twice_is_an_error():
    t = Timeout(1)
    t.start()
    with pytest.raises(AssertionError, match="already started"):
        t.start()
    t.cancel()


def test_none_never_fires_and_bad_values_raise():
    with Timeout(None):
        co.sleep(0.01)
    with pytest.raises(ValueError, match="NaN"):
        Timeout(float("nan"))
    with pytest.raises(TypeError):
        Timeout("1")


def test_negative_seconds_fire_at_once():
    with pytest.raises(Timeout):
        with Timeout(-1):
            co.sleep(10)


def test_exception_argument_forms_as_gevent():
    with pytest.raises(Timeout, match="too slow") as info:
        with Timeout(0.01, "too slow"):
            co.sleep(10)
    assert info.value.exception == "too slow"

    with pytest.raises(KeyError):
        with Timeout(0.01, KeyError):
            co.sleep(10)

    err = ValueError("mine")
    with pytest.raises(ValueError) as info2:
        with Timeout(0.01, err):
            co.sleep(10)
    assert info2.value is err

    with pytest.raises(TypeError, match="exception class"):
        Timeout(0.01, 42).start()


def test_timeout_in_greenlet_is_not_caught_by_except_exception():
    def body():
        try:
            with Timeout(0.01):
                co.sleep(1)
        except Exception:
            return "swallowed"
        return "no"

    g = co.spawn(body)
    g.join()
    assert isinstance(g.exception, Timeout)


def test_nested_timeouts_inner_fires_first():
    outer = Timeout(1)
    with outer:
        with pytest.raises(Timeout) as info:
            with Timeout(0.01):
                co.sleep(0.5)
        assert info.value is not outer
    assert not outer.pending


def test_leaked_timeout_does_not_hit_next_task_on_reused_worker():
    """A Timeout started and never cancelled in a finished greenlet must not
    fire into whatever the pooled worker runs next."""
    co.spawn(Timeout.start_new, 0.02).join()
    g = co.spawn(co.sleep, 0.1)
    g.join()
    assert g.successful()


def test_with_timeout():
    assert with_timeout(1, lambda x: x * 2, 4) == 8
    assert with_timeout(0.01, co.sleep, 1, timeout_value="late") == "late"
    with pytest.raises(Timeout):
        with_timeout(0.01, co.sleep, 1)
