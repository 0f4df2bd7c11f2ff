"""Pausing the cyclic garbage collector while one call builds a trace chunk's models.

Validating a chunk allocates thousands of container objects at once (each step's model, its
``__dict__``, each agent's model...), none of them garbage. With the collector on, that one call
sets off several collections, each walking the young objects, and now and then the whole heap:
in a replay that was more time than the validation itself. Paused, the collector runs once
after the call, as usual.

``gc.disable()`` is process-wide: a thread that turns the collector off during the pause finds
it on again after. The pause lasts one validation (about a millisecond for 256 steps).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; leave it as it was found."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
