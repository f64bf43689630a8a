"""The engine: loop, hub, waiting. Private; its internals may change."""
