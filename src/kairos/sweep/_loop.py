"""The event loop that blocking ``sweep(client=...)`` calls run their ``arun`` calls on: the
client's own loop thread (:func:`kairos.client._bridge.shared_loop`), one per process.

Keeping one long-lived loop matters: a client holds async connections per event loop, so a fresh
``asyncio.run`` per sweep would leave one abandoned connection pool behind per call in a long
notebook session, whereas on this loop each client opens its pool once and ``client.close()``
closes it. It also lets a blocking sweep run from inside a notebook, whose own loop is already
running.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from kairos.client._bridge import shared_loop

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared loop and wait for it; an interrupt (Ctrl-C) cancels it."""
    return shared_loop().run(coro)
