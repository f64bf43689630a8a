"""Tests of the engine (``coopshell/_core``), one file per module."""
