"""A person in the console, in a real browser: log in, watch agents, browse and check the audit log."""

from __future__ import annotations

import re
import time
from typing import Any


def test_login_shows_the_demo_with_live_agents(page: Any, demo_server: Any) -> None:
    page.goto(f"{demo_server.url}/console/demo")
    assert page.locator("h1").inner_text().startswith("Demo")
    row = page.locator("#agents tr[data-workflow=support-triage]")
    first = int(row.locator(".executed").inner_text())
    deadline = time.monotonic() + 15
    while int(row.locator(".executed").inner_text()) <= first:
        assert time.monotonic() < deadline, "the triage agent executed nothing in 15 s"
        page.reload()
        row = page.locator("#agents tr[data-workflow=support-triage]")


def test_wrong_password_is_refused(browser: Any, demo_server: Any, shot: Any) -> None:
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(f"{demo_server.url}/console/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", "not-the-password")
    tab.click("button[type=submit]")
    assert "/console/login" in tab.url
    assert tab.locator("[role=alert]").count() == 1
    shot(tab, "test_wrong_password_is_refused")
    context.close()


def test_audit_log_lists_events_shows_a_proof_and_verifies(page: Any, demo_server: Any) -> None:
    time.sleep(1.5)  # let the agents write a few events and the checkpointer sign one
    page.goto(f"{demo_server.url}/console/audit")
    rows = page.locator("table tbody tr")
    assert rows.count() > 0
    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/console/audit/\d+"))
    body = page.locator("main").inner_text()
    assert "proof" in body.lower()
    page.goto(f"{demo_server.url}/console/audit/verify")
    assert re.search(r"\bok\b|verified|intact", page.locator("main").inner_text(), re.IGNORECASE)


def test_console_works_on_a_phone_sized_screen(browser: Any, demo_server: Any, shot: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = context.new_page()
    tab.goto(f"{demo_server.url}/console/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", demo_server.password)
    tab.click("button[type=submit]")
    tab.goto(f"{demo_server.url}/console/demo")
    # nothing wider than the screen except inside the scrolling table wrappers
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    shot(tab, "test_console_works_on_a_phone_sized_screen")
    context.close()
    assert overflow <= 1
