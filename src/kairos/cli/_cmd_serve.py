"""``kairos serve``: the reference server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from kairos.cli._common import add_command, fail, positive_int

# Options handed to ServerConfig as they are when they are given: option -> ServerConfig field.
_PASSED_ON = {
    "api_keys_file": "api_keys_file",
    "workers": "workers",
    "max_ticks": "max_ticks",
    "lease": "lease_seconds",
    "sse_max_duration": "sse_max_duration_seconds",
    "executor_timeout": "executor_timeout_seconds",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = add_command(commands, "serve", _serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks one)")
    serve.add_argument(
        "--db",
        default=None,
        metavar="PATH_OR_DSN",
        help="a SQLite file (default: kairos.db in the user data dir), or a postgresql:// DSN "
        "for replicas sharing one PostgreSQL database (needs kairos-sdk[postgres])",
    )
    _add_seconds(
        serve,
        "--lease",
        "with PostgreSQL: a replica silent this long is taken for dead and its "
        "simulations are resumed by another (default 10)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="[ORG=]KEY",
        help="require this API key (repeatable); ORG names its organization. "
        "Also from KAIROS_SERVER_API_KEYS (comma-separated)",
    )
    serve.add_argument(
        "--api-keys-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="require the API keys in this file, one [ORG=]KEY per line (# comments). The file "
        "is re-read when it changes (checked every second, or at once on SIGHUP): a key removed "
        "from it is revoked without a restart, and its open WebSockets are closed",
    )
    serve.add_argument(
        "--workers", type=positive_int, default=None, help="worker processes (local executor)"
    )
    serve.add_argument(
        "--executor",
        default="local",
        metavar="local|ADDRESS",
        help="where simulations run: 'local' worker processes (default) or the Dask cluster "
        "whose scheduler is at ADDRESS, e.g. tcp://scheduler:8786",
    )
    _add_seconds(
        serve,
        "--executor-timeout",
        "how long to try reaching the Dask scheduler at start (default 10)",
    )
    serve.add_argument("--max-ticks", type=positive_int, default=None, help="most ticks per run")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="requests per second per key (0 turns rate limiting off)",
    )
    serve.add_argument("--rate-burst", type=positive_int, default=None, help="rate limit burst")
    _add_seconds(
        serve,
        "--sse-ping",
        "send an SSE subscription a ping event after this long without one (default 5)",
    )
    _add_seconds(
        serve,
        "--sse-max-duration",
        "end each SSE subscription after this long; the client resumes (default: no limit)",
    )
    serve.add_argument("--dev", action="store_true", help="development mode: stacks in errors")


def _add_seconds(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    """An optional duration in seconds; absent, ServerConfig's default holds."""
    parser.add_argument(flag, type=float, default=None, metavar="SECONDS", help=help_text)


def _serve(args: argparse.Namespace) -> int:
    """run the reference server

    Run the KAIROS reference server: tRPC over HTTP (/trpc/<path>) and WebSocket (/trpc) on one
    port. Without API keys it serves loopback only.
    """
    import logging

    from kairos.client._logging import RedactingFilter
    from kairos.server import Server, ServerConfig
    from kairos.server._auth import KeyRing
    from kairos.server._store import open_store

    level = logging.DEBUG if os.environ.get("KAIROS_LOG", "").strip().lower() == "debug" else None
    logging.basicConfig(
        level=level or logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())  # no key reaches the log, whoever logs it
    try:  # a bad key, value or keys file is one line, not a traceback
        config = ServerConfig(**_config_options(args))
        keyring = KeyRing(config.api_keys, config.api_keys_file)  # a bad file fails here
    except (OSError, ValueError) as exc:
        fail(str(exc))
    # A database that cannot be used fails here (a KairosError: one line), not at startup.
    open_store(config.db_url or config.db_path).close()
    log = logging.getLogger("kairos.server")
    if keyring.enabled:
        log.info("API keys required: %d key(s) configured", len(keyring))
    else:
        log.info("no API keys configured: serving without authentication on %s only", config.host)
    if config.db_url is not None:
        from kairos.server._pg_store import describe

        log.info("database: PostgreSQL at %s", describe(config.db_url))
    else:
        log.info("database: %s", config.db_path)
    if config.port:
        log.info("Observer page: http://%s:%d/observe (kairos observe)", config.host, config.port)
    server = Server(config, log_level="debug" if level else "info")
    server.run()
    if server.state.startup_error is not None:
        fail(str(server.state.startup_error))
    return 0


def _config_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ServerConfig keywords of the command line; ValueError for a bad key or rate limit."""
    from kairos.server._auth import RateLimit, parse_key_spec
    from kairos.server._config import DEFAULT_RATE_LIMIT
    from kairos.server._store import is_postgres

    specs = list(args.api_key)
    specs += [s for s in os.environ.get("KAIROS_SERVER_API_KEYS", "").split(",") if s.strip()]
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "api_keys": dict(parse_key_spec(spec) for spec in specs),
        "dev": args.dev,
        "executor": args.executor,
    }
    for name, field in _PASSED_ON.items():
        if getattr(args, name) is not None:
            options[field] = getattr(args, name)
    if args.db is not None:
        if is_postgres(args.db):
            options["db_url"] = args.db
        else:
            options["db_path"] = Path(args.db)
    if args.sse_ping is not None:
        options["sse_ping_seconds"] = args.sse_ping
        options["sse_reconnect_after_inactivity_seconds"] = max(20.0, 4 * args.sse_ping)
    if args.rate_limit is not None or args.rate_burst is not None:
        rate = args.rate_limit if args.rate_limit is not None else DEFAULT_RATE_LIMIT.rate
        burst = args.rate_burst if args.rate_burst is not None else DEFAULT_RATE_LIMIT.burst
        options["rate_limit"] = None if rate == 0 else RateLimit(rate, burst)  # nan: an error
    return options
