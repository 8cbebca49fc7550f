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
    # the bar keeps to two rows (name and login, then the pages), so the page starts near the top
    bar_height = tab.evaluate("document.querySelector('header.bar').getBoundingClientRect().height")
    tab.locator("header.bar nav a", has_text="API keys").scroll_into_view_if_needed()
    keys_visible = tab.locator("header.bar nav a", has_text="API keys").is_visible()
    shot(tab, "test_console_works_on_a_phone_sized_screen")
    context.close()
    assert overflow <= 1
    assert bar_height < 120, f"the console's bar is {bar_height:.0f} px tall on a phone"
    assert keys_visible, "the last pages of the bar can be scrolled to"


def _wait(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.2)


def test_pulling_the_cord_stops_the_agent_and_resume_restarts_it(
    page: Any, demo_server: Any, shot: Any
) -> None:
    api = demo_server.api()

    def triage() -> dict[str, Any]:
        agents: dict[str, dict[str, Any]] = api.get("/v1/demo").json()["agents"]
        return agents["support-triage"]

    _wait(lambda: triage()["executed"] >= 2, "triage acting")
    page.goto(f"{demo_server.url}/console/workflows/support-triage")
    pause = page.locator("form.cord:has(input[name=op][value=pause_workflow])")
    pause.locator("input[name=reason]").fill("billing tickets misrouted")
    pause.locator("button[type=submit]").click()
    page.wait_for_load_state()
    _wait(lambda: triage()["denied"] >= 1, "the paused agent being refused")
    stopped = triage()["executed"]
    time.sleep(1.5)
    assert triage()["executed"] == stopped, "the agent kept acting after the pause"
    assert "Unsorted" in (triage()["fallback"] or ""), "the denial did not carry the fallback queue"
    shot(page, "workflow_paused")

    resume = page.locator("form.cord:has(input[name=op][value=resume])")
    resume.locator("input[name=reason]").fill("prompt restored, tests added")
    resume.locator("button[type=submit]").click()
    page.wait_for_load_state()
    _wait(lambda: triage()["executed"] > stopped, "the agent acting again after resume")


def _pending(api: Any) -> list[dict[str, Any]]:
    body = api.get("/v1/approvals", params={"status": "pending"}).json()
    items: list[dict[str, Any]] = body.get("approvals", body.get("items", []))
    return items


def test_a_person_approves_one_held_action_and_rejects_another(
    page: Any, demo_server: Any, shot: Any
) -> None:
    api = demo_server.api()
    _wait(lambda: len(_pending(api)) >= 2, "two actions held for approval", timeout=30)
    first, second = _pending(api)[:2]

    page.goto(f"{demo_server.url}/console/approvals/{first['id']}")
    assert first["tool"] in page.locator("main").inner_text()
    shot(page, "approval_context")
    page.locator("form.cord:has(input[name=op][value=approve]) button").click()
    page.wait_for_load_state()
    _wait(
        lambda: api.get(f"/v1/approvals/{first['id']}").json()["status"] in ("approved", "executed"),
        "approval",
    )

    page.goto(f"{demo_server.url}/console/approvals/{second['id']}")
    reject = page.locator("form.cord:has(input[name=op][value=reject])")
    reject.locator("input[name=reason]").fill("amount does not match the invoice")
    reject.locator("button").click()
    page.wait_for_load_state()
    decided = api.get(f"/v1/approvals/{second['id']}").json()
    assert decided["status"] == "rejected"
    shot(page, "approval_rejected")
