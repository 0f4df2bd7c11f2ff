"""The ``kairos`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from kairos import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kairos",
        description="KAIROS stability simulations: the reference server, runs and sweeps.",
    )
    parser.add_argument("--version", action="version", version=f"kairos-sdk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the reference server",
        description="Run the KAIROS reference server (tRPC over HTTP and WebSocket).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks one)")
    serve.add_argument("--db", type=Path, default=None, help="SQLite file (default: user data dir)")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="[ORG=]KEY",
        help="require this API key (repeatable); ORG names its organization. "
        "Also from KAIROS_SERVER_API_KEYS (comma-separated)",
    )
    serve.add_argument("--workers", type=int, default=None, help="simulation worker processes")
    serve.add_argument("--max-ticks", type=int, default=None, help="most ticks per simulation")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="requests per second per key (0 turns rate limiting off)",
    )
    serve.add_argument("--rate-burst", type=int, default=None, help="burst size of the rate limit")
    serve.add_argument(
        "--dev", action="store_true", help="development mode: stack traces in errors"
    )

    commands.add_parser("demo", help="run the demonstration job")
    commands.add_parser("api", help="list the API's procedures")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    from kairos._surface import api_surface

    print(f"kairos-sdk {__version__}: the KAIROS API (sync calls; async twins prefixed 'a')\n")
    print(api_surface())
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kairos.server import Server, ServerConfig
    from kairos.server._auth import RateLimit, parse_key_spec
    from kairos.server._config import DEFAULT_RATE_LIMIT

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    specs = list(args.api_key)
    specs += [s for s in os.environ.get("KAIROS_SERVER_API_KEYS", "").split(",") if s.strip()]
    try:
        keys = dict(parse_key_spec(spec) for spec in specs)
    except ValueError as exc:
        print(f"kairos serve: {exc}", file=sys.stderr)
        return 2
    options: dict[str, object] = {"host": args.host, "port": args.port, "api_keys": keys}
    if args.db is not None:
        options["db_path"] = args.db
    if args.workers is not None:
        options["workers"] = args.workers
    if args.max_ticks is not None:
        options["max_ticks"] = args.max_ticks
    if args.rate_limit is not None or args.rate_burst is not None:
        rate = args.rate_limit if args.rate_limit is not None else DEFAULT_RATE_LIMIT.rate
        burst = args.rate_burst if args.rate_burst is not None else DEFAULT_RATE_LIMIT.burst
        options["rate_limit"] = RateLimit(rate, burst) if rate > 0 else None
    options["dev"] = args.dev
    try:
        config = ServerConfig(**options)  # type: ignore[arg-type]
    except ValueError as exc:
        print(f"kairos serve: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("kairos.server")
    if keys:
        log.info("API keys required: %d key(s) configured", len(keys))
    else:
        log.info("no API keys configured: serving without authentication on %s only", config.host)
    log.info("database: %s", config.db_path)
    server = Server(config, log_level="info")
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
