"""kairos.server: the reference server, speaking the KAIROS API over the tRPC v11 wire protocol.

``kairos serve`` runs it standalone; :class:`ServerThread` runs it on a background thread (the
client's embedded default, and the test suite's server); :func:`create_app` gives the ASGI app
for any ASGI server.
"""

from kairos._deferred import exports_from_stub

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
