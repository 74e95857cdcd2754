"""Golemline: a chain of small models ("golems") — Scribe, Interpreter, Oracle — with confidence gating."""

__version__ = "0.1.0"
