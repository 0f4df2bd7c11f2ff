"""The server's bookkeeping of the subscriptions running on one WebSocket.

:class:`ServerSubscriptions` is the set of running subscription ids (a second subscription with
a running id is refused with "Duplicate id N"). The client's side, which outlives single
sockets, is the subscription machine (:mod:`.subscriptions`).
"""

from __future__ import annotations

from .envelopes import TRPCError
from .ws_common import RequestId

__all__ = ["ServerSubscriptions"]


class ServerSubscriptions:
    """The subscriptions running on one server connection."""

    def __init__(self) -> None:
        self._active: set[RequestId] = set()

    def start(self, id: RequestId) -> TRPCError | None:
        """Register subscription ``id``, or the BAD_REQUEST to answer when it is already running."""
        if id in self._active:
            return TRPCError("BAD_REQUEST", f"Duplicate id {id}")
        self._active.add(id)
        return None

    def stop(self, id: RequestId) -> bool:
        """Forget ``id``; True when it was running (the caller then aborts it and sends stopped)."""
        if id in self._active:
            self._active.discard(id)
            return True
        return False

    def __contains__(self, id: object) -> bool:
        return id in self._active

    def __len__(self) -> int:
        return len(self._active)

    def close(self) -> list[RequestId]:
        """The socket closed: every running subscription, to abort; the set is emptied."""
        active = list(self._active)
        self._active.clear()
        return active
