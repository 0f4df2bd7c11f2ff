"""Closing what clients left open when the interpreter exits, while it still can.

A script may end with a client it never closed and a stream it abandoned. The client's
background loop and the embedded server live on daemon threads; left to themselves they would
be stopped mid-flight, with tasks pending and their sockets and worker processes cut. Instead,
open clients are closed (their abandoned streams end as a ``close()`` would end them) and then
the embedded server stops. This runs from :mod:`threading`'s exit hooks, which run before
``concurrent.futures`` refuses new work: the event loops still need an executor then (name
resolution, the server's store reads). Plain :mod:`atexit` runs too late for that.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable

__all__ = ["CLIENTS", "LOOP", "SERVER", "at_exit"]

CLIENTS = 0
"""Close open clients first,"""
LOOP = 1
"""then stop the sync API's event-loop thread,"""
SERVER = 2
"""then stop the embedded server they used."""

_lock = threading.Lock()
_hooks: list[tuple[int, Callable[[], None]]] = []
_registered = False


def at_exit(order: int, hook: Callable[[], None]) -> None:
    """Run ``hook`` at interpreter exit, after hooks of a lower ``order``."""
    global _registered
    with _lock:
        _hooks.append((order, hook))
        if _registered:
            return
        _registered = True
    # Importing it registers concurrent.futures' own exit hook now, so that ours, registered
    # later, runs earlier (threading runs its exit hooks in reverse order).
    import concurrent.futures.thread  # noqa: F401

    register: Callable[[Callable[[], None]], object] = getattr(
        threading, "_register_atexit", atexit.register
    )
    try:
        register(_run)
    except RuntimeError:  # the interpreter is already shutting down
        atexit.register(_run)


def _run() -> None:
    with _lock:
        hooks = sorted(_hooks, key=lambda item: item[0])
        _hooks.clear()
    for _order, hook in hooks:
        with contextlib.suppress(Exception):
            hook()
