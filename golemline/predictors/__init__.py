"""The golems — Scribe, Interpreter, Oracle — as KServe models, each with pluggable backends."""
