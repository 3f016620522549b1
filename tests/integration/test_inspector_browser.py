"""The inspector of `ciohooks serve` (/_inspect) in real Chromium: a signed sample posted from its
form shows up with the events it became and their delivery, and a dead letter replays from it.

serve runs as users run it (`ciohooks serve --local-keys events/keys`, a subprocess on loopback),
delivering to the Customer.io stand-in; the browser is the one tests/support/browser.py finds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import shutil

import pytest

from tests.support import REPO_ROOT, free_port, kill_process_group, wait_for_port
from tests.support.browser import chromium_or_skip
from tests.support.standin import CioStandin

pytestmark = pytest.mark.integration

STEP_MS = 15_000


@pytest.fixture
def serve(cio_standin: CioStandin):
    port = free_port()
    env = {**os.environ, "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key, "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url,
           "CIOHOOKS_CUSTOMERIO_MAX_ATTEMPTS": "1"}
    for name in ("CIOHOOKS_DELIVERY_QUEUE_URL", "CIOHOOKS_DEAD_LETTER_QUEUE_URL"):
        env.pop(name, None)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "ciohooks.cli", "serve", "--port", str(port), "--local-keys", "events/keys"],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_for_port("127.0.0.1", port, 30, lambda: proc.poll() is None), "serve did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        kill_process_group(proc)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
        assert "Traceback" not in output, output[-3000:]


@pytest.fixture
def page():
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="cio-inspector-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=str(chromium), headless=True,
                                                                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        context.set_default_timeout(STEP_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
        assert errors == [], errors


def post_sample(page, source: str, sample: str) -> None:
    page.select_option("#source", source)
    page.wait_for_function("name => [...document.querySelectorAll('#sample option')].some(o => o.value === name)", arg=sample)
    page.select_option("#sample", sample)
    page.wait_for_function("() => document.getElementById('body').value.includes('sg_event_id')")
    page.click("#post")


def test_a_signed_sample_shows_its_events_and_a_dead_letter_replays(serve: str, page, cio_standin: CioStandin) -> None:
    page.goto(f"{serve}/_inspect")
    post_sample(page, "email/sendgrid", "batch.json")
    page.wait_for_function("() => document.getElementById('answer').textContent.startsWith('200')")
    row = page.locator("#requests tbody tr[data-id='1']")
    row.locator("text=Email Bounced").wait_for()
    page.wait_for_function("() => document.querySelectorAll('#requests tr[data-id=\"1\"] li .v-delivered').length === 7")
    assert row.get_attribute("data-verdict") == "queued"
    cells = row.locator("td").all_text_contents()
    assert cells[2:6] == ["POST /sendgrid", "email/sendgrid", "200", "queued"]
    events = row.locator("li").all_text_contents()
    assert sorted(e.split(" <")[0] for e in events) == ["Email Bounced", "Email Delivered", "Email Link Clicked", "Email Marked as Spam", "Email Opened",
                                                        "Email Unsubscribed", "Email Unsubscribed"]
    assert "example@test.com" not in page.content() and "<email>" in events[0]  # masked as in the logs
    assert len(cio_standin.events) == 7

    cio_standin.fail_next(1, status=400)  # Customer.io refuses the next request: a permanent failure
    post_sample(page, "email/sendgrid", "click.json")
    dead = page.locator("#dead tbody tr").first
    dead.locator("button:text('Replay')").wait_for()
    assert dead.locator("td").nth(1).text_content() == "#2" and dead.locator("td").nth(3).text_content() == "deliver"
    page.wait_for_function("() => document.querySelector('#requests tr[data-id=\"2\"]').dataset.verdict === 'dead-lettered'")

    dead.locator("button:text('Replay')").click()
    replay = page.locator("#requests tbody tr[data-replay-of='2']")
    replay.locator(".v-delivered").wait_for()
    assert replay.locator("td").nth(2).text_content() == "REPLAY /sendgrid"
    assert replay.locator("li").all_text_contents()[0].startswith("Email Link Clicked")
    page.locator("#dead button:text('replayed')").wait_for()
    assert [e["event"] for e in cio_standin.events][-1] == "Email Link Clicked"


def test_the_inspector_is_off_when_serve_listens_beyond_loopback() -> None:
    from ciohooks.inspector import inspector_for

    assert inspector_for(object(), "0.0.0.0", None, None) is None
    assert inspector_for(object(), "192.168.1.20", False, None) is None
