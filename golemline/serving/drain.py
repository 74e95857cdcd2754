"""Graceful drain on SIGTERM: not ready first, keep serving for a while, then close and finish what is in flight.

Why this order: whoever routes traffic here (a Kubernetes Service, a load balancer, the transformer's retry) learns
from the readiness probe that this server is going away. While they catch up, requests that still arrive are
served, not refused. Only then does the listener close; uvicorn then finishes the requests in flight (bounded by
its graceful-shutdown timeout) and the process exits 0. A second SIGTERM/SIGINT during the drain means "now": the
listener closes at once and in-flight work is not waited for.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

log = logging.getLogger("golemline.serve")


class Drain:
    """Takes over uvicorn's signal handler (`handle_exit`, which uvicorn installs when it starts serving)."""

    def __init__(self, drain_s: float) -> None:
        self.drain_s = drain_s
        self.draining = False
        self.forced = False
        self.forced_by: int | None = None  # the signal that cut the drain short
        self._server: Any = None
        self._lock = threading.Lock()

    def attach(self, server: Any) -> None:
        """Route `server`'s (a `uvicorn.Server`) SIGTERM/SIGINT through the drain; call before it serves."""
        self._server = server
        server.handle_exit = self.handle_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: start draining; a second one: exit now."""
        with self._lock:
            name = signal.Signals(sig).name
            if self.draining:
                log.warning("second %s during the drain: exiting now, without waiting for in-flight requests", name)
                self.forced, self.forced_by = True, sig
                self._close(force=True)
                return
            self.draining = True
        # Ctrl-C is a person at a terminal, not a router that must learn from the readiness probe: no drain period.
        drain_s = 0.0 if sig == signal.SIGINT else self.drain_s
        log.info("%s: shutting down — readiness now answers 503; serving %g s more, then closing the listener and "
                 "finishing in-flight requests (a second signal exits at once)", name, drain_s)
        if drain_s <= 0:
            self._close(force=False)
            return
        timer = threading.Timer(drain_s, self._close, kwargs={"force": False})
        timer.daemon = True
        timer.start()

    def _close(self, force: bool) -> None:
        """uvicorn checks `should_exit` on every tick (0.1 s): it then closes the listener and waits for in-flight
        requests, unless `force_exit`."""
        if self._server is None:
            return
        if not force:
            log.info("drain over: closing the listener; in-flight requests finish")
        self._server.should_exit = True
        if force:
            self._server.force_exit = True
