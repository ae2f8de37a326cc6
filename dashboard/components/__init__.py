"""Shared page chrome, as ``create_*`` factories."""
