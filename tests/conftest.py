"""Fixtures shared by the whole suite."""

import io

import pytest

import coopshell as co


@pytest.fixture
def quiet_hub():
    """Capture what the hub prints for failed greenlets (expected failures stay
    out of the test output, and tests can assert on the report)."""
    hub = co.get_hub()
    old = hub._exception_stream
    hub.exception_stream = stream = io.StringIO()
    yield stream
    hub.exception_stream = old
