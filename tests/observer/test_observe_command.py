"""``kairos observe [URL]``: prints the page's address, opens it where a browser is available
(``BROWSER`` names one here), and does not fail where none is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KAIROS = [sys.executable, "-m", "kairos", "observe"]


def observe(*args: str, browser: str | None, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAIROS_URL", "BROWSER", "DISPLAY")}
    if browser is not None:
        env["BROWSER"] = browser
    return subprocess.run(
        [*KAIROS, *args], capture_output=True, text=True, env=env, cwd=tmp, timeout=60
    )


def test_prints_the_address_and_opens_it(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\n")
    result = observe(
        "http://127.0.0.1:9999/", browser=f"{sys.executable} {script} %s", tmp=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["http://127.0.0.1:9999/observe"]
    assert opened.read_text() == "http://127.0.0.1:9999/observe"


def test_no_browser_is_no_failure(tmp_path: Path) -> None:
    result = observe("https://kairos.example/prefix", browser="false %s", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "https://kairos.example/prefix/observe",
        "no browser available here: open the address above in one",
    ]
    quiet = observe("--no-browser", browser="false %s", tmp=tmp_path)
    assert quiet.stdout.splitlines() == ["http://127.0.0.1:8787/observe"]


def test_a_bad_url_is_one_line(tmp_path: Path) -> None:
    result = observe("localhost:8787", browser=None, tmp=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "kairos: error: not a server URL: 'localhost:8787' (expected http://HOST:PORT)\n"
    )
