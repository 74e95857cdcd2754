"""Serving: KServe model servers for the golems and the orchestrating transformer."""
