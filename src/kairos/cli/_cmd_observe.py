"""``kairos observe [URL]``: the Observer page of a running server, in a browser."""

from __future__ import annotations

import argparse
import os
import webbrowser
from urllib.parse import urlsplit, urlunsplit

from kairos.cli._common import add_command, fail

DEFAULT_URL = "http://127.0.0.1:8787"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    observe = add_command(commands, "observe", _observe)
    observe.add_argument(
        "url",
        nargs="?",
        default=None,
        help=f"the server (default: KAIROS_URL, else {DEFAULT_URL}, where kairos serve listens)",
    )
    observe.add_argument(
        "--no-browser", action="store_true", help="only print the address, open nothing"
    )


def page_url(server: str) -> str:
    """The Observer page of the server at ``server`` (``http(s)://host[:port][/prefix]``)."""
    parts = urlsplit(server.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"not a server URL: {server!r} (expected http://HOST:PORT)")
    if parts.query or parts.fragment:
        fail(f"a server URL has no query or fragment: {server!r}")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path + "/observe", "", ""))


def _observe(args: argparse.Namespace) -> int:
    """open the Observer page of a server in a browser

    Print the address of a server's Observer page (/observe: its simulations, live charts of
    running ones) and open it in a browser where one is available. The page asks for the API
    key itself when the server needs one.
    """
    server = args.url or os.environ.get("KAIROS_URL", "").strip() or DEFAULT_URL
    url = page_url(server)
    print(url, flush=True)
    if not args.no_browser:
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if not opened:
            print("no browser available here: open the address above in one", flush=True)
    return 0
