"""kairos.client: :class:`KairosClient`, the SDK's entry point.

``from kairos.client import KairosClient`` (also re-exported as ``from kairos import
KairosClient``). Design notes: queries and mutations run one sans-I/O call machine
(:mod:`._machine`) under a sync and an async HTTP driver (:mod:`._http`); subscriptions run one
sans-I/O subscription machine (:mod:`kairos._trpc.subscriptions`) per connection under a
WebSocket or an SSE driver, pooled per event loop (:mod:`._streams`) so that streams share few
sockets and resume after lost connections; the sync API drives that same async code on a
background loop (:mod:`._bridge`).
"""

from kairos._deferred import exports_from_stub

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
