"""Browser tests: the real `andon demo` server on a real port, driven in Debian's Chromium by Playwright.

Chromium is /usr/bin/chromium (Debian's package); Playwright never downloads a browser. Without it the
tests skip with the reason, unless ANDON_REQUIRE_BROWSER=1 (set by CI), which makes that a failure.
Screenshots are kept in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
REQUIRE_BROWSER = os.environ.get("ANDON_REQUIRE_BROWSER") == "1"


def _browser_problem() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'andon[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Module scope, not session: Playwright's sync API keeps an event
    loop running in this thread while it is open, which would break every later asyncio test."""
    problem = _browser_problem()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"ANDON_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class DemoServer:
    url: str
    password: str
    process: subprocess.Popen[str]

    def api(self) -> httpx.Client:
        """An httpx client logged in as admin (for arranging and checking, not for the clicks)."""
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=10)
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        client.post(
            "/console/login",
            data={"username": "admin", "password": self.password, "csrf_token": token.group(1)},
        )
        return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[DemoServer]:
    """`andon demo` in a subprocess on a free port; yields its URL and the printed admin password."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "andon", "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    password = None
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while password is None:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"andon demo exited with {process.returncode}")
        found = re.search(r"Log in as: admin / (\S+)", line)
        if found:
            password = found.group(1)
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("andon demo did not print a login within 60 s")
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("andon demo did not answer /healthz within 60 s")
        time.sleep(0.1)
    try:
        yield DemoServer(url, password, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def shot() -> Any:
    """``shot(tab, name)`` keeps a full-page screenshot in test-artifacts/browser/NAME.png."""

    def take(tab: Any, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def page(browser: Any, demo_server: DemoServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A logged-in page on a phone-sized or desktop viewport; a screenshot is kept at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.goto(f"{demo_server.url}/console/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", demo_server.password)
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(r".*/console/.*"))
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()
