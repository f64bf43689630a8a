"""Shared helpers for the test suite (local servers, subprocess runners)."""
