"""The Observer page in a real browser: Debian's headless Chromium, driven by Playwright's
Python package (never ``playwright install``), against a real ``kairos serve`` process.

Skipped, with the reason, only where Chromium is not installed (``scripts/test`` installs it
with apt-get when it runs as root). Screenshots go to ``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
KAIROS_SERVE = [sys.executable, "-m", "kairos", "serve", "--workers", "1"]
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/test installs it with apt-get as root)",
)

SCENARIO: dict[str, Any] = {
    "name": "observer run",
    "seed": 5,
    "models": [
        {"name": "alpha", "capabilityIndex": 250, "alignmentScore": 75, "guardrailCoverage": 60},
        {"name": "beta", "capabilityIndex": 180, "alignmentScore": 60, "guardrailCoverage": 50},
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``kairos serve`` as its own process, restartable on the same port and database."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.db = tmp / "kairos.db"
        self.args = args
        self.log = tmp / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*KAIROS_SERVE, "--port", str(self.port), "--db", str(self.db), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/observe", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("kairos serve did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.process = None

    def create(self, ticks: int, key: str | None = None, **overrides: Any) -> str:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        body = {"scenario": {**SCENARIO, **overrides}, "ticks": ticks}
        answer = httpx.post(self.url + "/trpc/simulation.create", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["result"]["data"]["id"])

    def query(self, path: str, input: Any, key: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        answer = httpx.get(
            f"{self.url}/trpc/{path}", params={"input": json.dumps(input)}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]["data"]

    def wait(self, simulation_id: str, key: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            record: dict[str, Any] = self.query("simulation.get", {"id": simulation_id}, key)
            if record["status"] in ("completed", "failed", "cancelled"):
                return record
            time.sleep(0.2)
        raise AssertionError(f"{simulation_id} did not finish")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab on the Observer page, with every console message and page error kept."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.messages: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.page.on("console", lambda m: self.messages.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("websocket", lambda ws: self.urls.append(ws.url))

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("() => window.kairosObserver.state")
        return state

    def until(self, condition: str, timeout: float = 120) -> None:
        """Wait for a condition on ``s`` (the page's state), e.g. ``s.tick > 10``."""
        self.page.wait_for_function(
            f"() => {{ const s = window.kairosObserver.state; return {condition}; }}",
            timeout=timeout * 1000,
        )

    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.messages if kind in ("error", "pageerror")]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Page]:
    page = Page(browser)
    yield page
    page.close()


def test_the_list_shows_the_simulations(serve: Serve, tab: Page) -> None:
    first = serve.create(200, name="first run")
    second = serve.create(300, name="second run")
    serve.wait(first)
    serve.wait(second)
    tab.page.goto(serve.url + "/observe")
    tab.until(f"s.rows.length === 2 && s.rows.includes({first!r})")
    rows = tab.page.locator("#simulations tbody tr")
    assert rows.count() == 2
    text = rows.nth(0).inner_text()
    assert second in text and "second run" in text and "completed" in text
    engine_version = serve.query("simulation.get", {"id": second})["engineVersion"]
    assert "300 / 300" in text and engine_version in text

    # Filtered by status: no running simulation here.
    tab.page.select_option("#status-filter", "running")
    tab.until("s.rows.length === 0")
    assert tab.page.locator("#list-empty").is_visible()
    tab.page.select_option("#status-filter", "completed")
    tab.until("s.rows.length === 2")

    # By keyboard: focus the row's button, Enter opens the chart, + zooms in, 0 zooms out.
    tab.page.focus(f"button[data-id='{first}']")
    tab.page.keyboard.press("Enter")
    tab.until(f"s.selected === {first!r} && s.draws > 0 && s.tick === 200")
    tab.page.focus("#stability-chart")
    tab.page.keyboard.press("+")
    tab.page.wait_for_function(
        "() => !document.getElementById('range').textContent.startsWith('ticks 1\\u2013200 ')"
    )
    tab.page.keyboard.press("0")
    tab.page.wait_for_function(
        "() => document.getElementById('range').textContent.startsWith('ticks 1\\u2013200 ')"
    )
    tab.screenshot("observer-list.png")
    assert tab.errors() == []


def test_the_chart_grows_while_a_simulation_runs(serve: Serve, tab: Page) -> None:
    simulation = serve.create(60_000)
    tab.page.goto(serve.url + "/observe")
    tab.until(f"s.rows.includes({simulation!r})")
    tab.page.click(f"button[data-id='{simulation}']")
    tab.until("s.following && s.tick > 0")
    extent = "() => document.querySelector('#stability-chart path.stability').getBBox().width"
    before = tab.state()
    width_before = tab.page.evaluate(extent)
    tab.until(f"s.tick > {before['tick']} + 3000 && s.draws > {before['draws']}")
    assert tab.page.evaluate(extent) > width_before + 10  # pixels: the band reaches further
    tab.screenshot("observer-growing.png")
    serve.wait(simulation)
    tab.until("!s.following && s.tick === 60000")
    state = tab.state()
    assert (state["gaps"], state["duplicates"], state["covered"]) == (0, 0, 60_000)
    assert tab.errors() == []


def test_the_chart_survives_a_server_restart(serve: Serve, tab: Page) -> None:
    ticks = 80_000
    simulation = serve.create(ticks, name="restarted run")
    tab.page.goto(serve.url + "/observe")
    tab.until(f"s.rows.includes({simulation!r})")
    tab.page.click(f"button[data-id='{simulation}']")
    tab.until("s.following && s.tick > 0")
    serve.stop()
    tab.until("!s.connected")
    assert tab.state()["tick"] < ticks, "the run ended before the restart; nothing was tested"
    assert tab.page.inner_text("#connection") == "reconnecting…"
    serve.start()
    serve.wait(simulation)
    tab.until(f"s.connected && !s.following && s.tick === {ticks}")
    state = tab.state()
    assert state["reconnects"] >= 1
    assert (state["gaps"], state["duplicates"], state["covered"]) == (0, 0, ticks)

    # What the page built from the stream, across the restart, is what the server reduces.
    page = tab.page.evaluate("() => window.kairosObserver.buckets")
    series = serve.query("simulation.series", {"id": simulation, "buckets": 1000})
    assert page["width"] == series["bucketTicks"]
    assert (page["start"], page["end"]) == (series["start"], series["end"])
    assert (page["min"], page["max"]) == (series["stabilityMin"], series["stabilityMax"])
    tab.screenshot("observer-restarted.png")
    # While the server was down, the browser reported only the refused connections.
    errors = tab.errors()
    assert all("ERR_CONNECTION_REFUSED" in text for _kind, text in errors), errors


def test_a_keyed_server_takes_the_key_from_a_form(tmp_path: Path, tab: Page) -> None:
    key = "krs_observer_secret_4711"
    server = Serve(tmp_path, "--api-key", f"org_obs={key}", "--api-key", "org_other=krs_other")
    server.start()
    try:
        mine = server.create(100, key=key, name="mine")
        theirs = server.create(100, key="krs_other", name="theirs")
        server.wait(mine, key)
        tab.page.goto(server.url + "/observe")
        tab.page.wait_for_selector("#key-form:not([hidden])")
        assert tab.page.inner_text("#connection") == "API key needed"
        tab.page.fill("#key-input", key)
        tab.page.press("#key-input", "Enter")
        tab.until(f"s.rows.length === 1 && s.rows[0] === {mine!r}")
        assert theirs not in tab.page.inner_text("#simulations")
        assert tab.page.evaluate("() => sessionStorage.length") == 1
    finally:
        server.stop()
    assert all(key not in url for url in tab.urls), tab.urls
    assert key not in server.log.read_text()
    # The refusal before the key was given is not a console error: it is shown on the page.
    assert tab.errors() == []


def test_decrees_prophecies_and_warnings_are_marked(serve: Serve, tab: Page) -> None:
    from kairos import scenarios

    ticks = 14_000  # 560 prophecies: more markers than the page keeps (500)
    scenario = scenarios.get("capability-divergence").scenario().to_wire()
    body = {"scenario": scenario, "ticks": ticks, "engineVersion": "1.6.0"}
    created = httpx.post(serve.url + "/trpc/simulation.create", json=body)
    assert created.status_code == 200, created.text
    simulation = str(created.json()["result"]["data"]["id"])
    tab.page.goto(serve.url + "/observe")
    tab.until(f"s.rows.includes({simulation!r})")
    tab.page.click(f"button[data-id='{simulation}']")
    tab.until("s.following && s.tick > 0")

    # A decree while the page follows the run: it arrives over the subscription.
    event = {"type": "containment", "target": "frontier_model", "magnitude": 0.6}
    before = tab.state()["tick"]
    answer = httpx.post(
        serve.url + "/trpc/simulation.decree", json={"id": simulation, "event": event}
    )
    assert answer.status_code == 200, answer.text
    decree = answer.json()["result"]["data"]
    record = serve.wait(simulation)
    assert record["status"] == "completed"
    tick = record["decrees"][0]["tick"]
    assert before < tick, "the page read the decree's step before following it"
    tab.until(f"!s.following && s.tick === {ticks}")
    label = f"decree {decree['id']}: containment on frontier_model (0.6)"
    live = tab.page.evaluate("() => window.kairosObserver.markers")
    assert [(m["tick"], m["label"]) for m in live if m["kind"] == "decree"] == [(tick, label)]

    # The page's own markers of the stream are the server's (simulation.series) ones.
    series = serve.query("simulation.series", {"id": simulation, "maxMarkers": 2000})
    assert series["markersTotal"] == len(series["markers"]) == tab.state()["markers"]
    # Over 500, the page left out every other prophecy, and nothing else.
    assert len(live) <= 500 < series["markersTotal"]
    assert [m for m in live if m["kind"] != "prophecy"] == [
        m for m in series["markers"] if m["kind"] != "prophecy"
    ]
    prophecies = [m for m in series["markers"] if m["kind"] == "prophecy"]
    kept = [m for m in live if m["kind"] == "prophecy"]
    assert kept and all(m in prophecies for m in kept) and kept[0] == prophecies[0]
    assert kept[-1]["tick"] >= ticks - 50  # spread over the run, not its first 500
    kinds = {m["kind"] for m in series["markers"]}
    assert {"decree", "prophecy", "warning", "event", "basinLoss"} <= kinds

    # Opened afresh, the chart draws them from simulation.series.
    tab.page.click(f"button[data-id='{simulation}']")
    tab.until(f"s.selected === {simulation!r} && !s.following && s.tick === {ticks}")
    chart = tab.page.locator("#stability-chart")
    decrees = chart.locator(".marker-decree title")
    assert decrees.count() == 1 and decrees.text_content() == f"tick {tick:,}: {label}"
    assert chart.locator(".marker-event").count() >= 1
    assert chart.locator(".marker-warning").count() >= 1
    assert chart.locator(".marker-prophecy").count() >= 100
    legend = tab.page.inner_text("#legend")
    for name in ("decree", "prophecy", "warning", "event", "basin loss"):
        assert name in legend

    # By keyboard: the decree's entry in the list zooms the chart around its tick.
    entry = tab.page.locator("#markers li[data-kind='decree'] button")
    assert entry.inner_text() == f"tick {tick:,}"
    entry.focus()
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_function(
        "() => !document.getElementById('range').textContent.startsWith('ticks 1\\u201314,000 ')"
    )
    tab.page.wait_for_selector("#stability-chart .marker-decree")
    # Closer, on the chart: the run's first quarter, from the warnings to the decree.
    tab.page.focus("#stability-chart")
    tab.page.keyboard.press("+")
    tab.page.keyboard.press("ArrowLeft")
    tab.page.wait_for_function(
        "() => document.getElementById('range').textContent.startsWith('ticks 1\\u20133,501 ')"
    )
    tab.page.wait_for_selector("#stability-chart .marker-warning")
    tab.screenshot("observer-markers.png")
    tab.page.evaluate(
        "() => { document.activeElement.blur(); window.scrollTo(0, 0);"
        " document.getElementById('markers').scrollTop = 0; }"
    )
    tab.page.screenshot(path=str(ARTIFACTS / "observer-markers-view.png"))  # docs/observer.png
    assert tab.errors() == []
