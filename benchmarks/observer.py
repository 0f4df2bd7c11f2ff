"""``scripts/bench observer``: the Observer page on a long finished run, in headless Chromium.

Starts ``kairos serve`` on a database (``--db``; a new one under a temporary directory if not
given), creates one run of ``--ticks`` ticks there unless the database already holds a completed
one of that length, then restarts the server so that its chart cache is cold, and loads the page
twice in Debian's chromium (Playwright's Python package): cold (the server reads the whole trace
once) and warm (a new tab, same server).

Reported per load: milliseconds from navigation to the list, from the click on the run to its
chart drawn, and the bytes the page received: its three files, and the WebSocket frames (the
list, the phases of running rows, the chart's ``simulation.series``).

    scripts/bench observer [--ticks 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.observer.test_observer_browser import CHROMIUM_ARGS, Serve


def find_run(serve: Serve, ticks: int) -> str | None:
    page = serve.query("simulation.list", {"limit": 200, "status": "completed"})
    return next((s["id"] for s in page["items"] if s["ticks"] == ticks), None)


def load(browser: Any, url: str, simulation: str, ticks: int) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sizes = {"files": 0, "frames": 0, "sent": 0}

    def response(r: Any) -> None:
        if "/observe" in r.url:
            sizes["files"] += len(r.body())

    def websocket(ws: Any) -> None:
        ws.on(
            "framereceived",
            lambda payload: sizes.__setitem__("frames", sizes["frames"] + len(payload)),
        )
        ws.on("framesent", lambda payload: sizes.__setitem__("sent", sizes["sent"] + len(payload)))

    page.on("response", response)
    page.on("websocket", websocket)
    start = time.perf_counter()
    page.goto(url + "/observe")
    page.wait_for_selector(f"button[data-id='{simulation}']", timeout=120_000)
    listed = time.perf_counter()
    page.click(f"button[data-id='{simulation}']")
    page.wait_for_function(
        f"() => {{ const s = window.kairosObserver.state; return s.tick === {ticks} && s.draws; }}",
        timeout=300_000,
    )
    drawn = time.perf_counter()
    page.wait_for_timeout(500)  # let the list's next refresh land, as a user would see it
    context.close()
    return {
        "list_ms": round((listed - start) * 1000),
        "chart_ms": round((drawn - listed) * 1000),
        "total_ms": round((drawn - start) * 1000),
        "files_bytes": sizes["files"],
        "ws_received_bytes": sizes["frames"],
        "ws_sent_bytes": sizes["sent"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="kairos-bench-observer-"))
    serve = Serve(home)
    if args.db is not None:
        serve.db = args.db
    serve.start()
    simulation = find_run(serve, args.ticks)
    if simulation is None:
        print(f"running {args.ticks} ticks once (kept in {serve.db})", flush=True)
        simulation = serve.create(args.ticks, name=f"{args.ticks} ticks")
        started = time.perf_counter()
        serve.wait(simulation)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    serve.stop()
    serve.start()  # a cold chart cache
    stored = httpx.get(
        serve.url + "/trpc/simulation.trace",
        params={"input": json.dumps({"id": simulation, "limit": 1000})},
    )
    per_step = len(stored.content) / 1000
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            results = {
                "cold": load(browser, serve.url, simulation, args.ticks),
                "warm": load(browser, serve.url, simulation, args.ticks),
            }
            browser.close()
    finally:
        serve.stop()
    size = per_step * args.ticks / 1e6
    print(f"run {simulation}: {args.ticks} ticks, about {size:.0f} MB as JSON steps")
    for name, result in results.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
