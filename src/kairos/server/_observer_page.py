"""The Observer page at ``/observe``: plain HTML, CSS and JavaScript shipped in the package
(``kairos/server/observer/``), no CDN and no build step. The page talks to the server over its
own tRPC WebSocket, so it needs no endpoint of its own beyond these files."""

from __future__ import annotations

import functools
import importlib.resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ASSETS = {
    "observer.js": "text/javascript; charset=utf-8",
    "observer.css": "text/css; charset=utf-8",
}

# Everything from this server only; the socket back to it is the one connection the page opens.
_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@functools.cache
def asset(name: str) -> bytes:
    """One of the page's files, from the installed package."""
    return (
        importlib.resources.files("kairos.server").joinpath("observer").joinpath(name).read_bytes()
    )


async def observe_page(request: Request) -> Response:
    """``GET /observe``: the page."""
    return Response(asset("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


async def observe_asset(request: Request) -> Response:
    """``GET /observe/<file>``: its script and style sheet."""
    name = request.path_params["name"]
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(asset(name), media_type=ASSETS[name], headers=_HEADERS)


ROUTES = [
    Route("/observe", observe_page, methods=["GET", "HEAD"]),
    Route("/observe/{name}", observe_asset, methods=["GET", "HEAD"]),
]
