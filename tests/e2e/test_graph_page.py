"""The analyst's graph page in headless Chromium (Debian's chromium + chromedriver, installed by
deploy/install-chromium.sh): it loads a ring from a real hub, a click expands a node, a
screenshot is taken; the standalone export works with no server at all."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from clients.analyst import AnalystClient
from clients.analyst_web.page import standalone_page
from clients.analyst_web.server import AnalystPageServer
from clients.cli.analyst_commands import ring_page_data
from clients.demo.consortium import LocalConsortium, start_local_consortium
from runtime.clock import ManualClock
from tests.integration.test_hub_rings import MEMBERS, plant_device_ring

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# `make test` (and so CI) installs chromium first and sets LIANFANG_REQUIRE_BROWSER: there, a
# missing browser is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("LIANFANG_REQUIRE_BROWSER"),
    reason="chromium not installed: run deploy/install-chromium.sh (make test does)",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER or ""))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def consortium(tmp_path: Path) -> Any:
    c = await start_local_consortium(tmp_path, MEMBERS, clock=ManualClock())
    try:
        yield c
    finally:
        await c.stop()


async def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Polls without blocking the event loop: the hub under test runs on it."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def page_state(driver: WebDriver) -> tuple[str, str]:
    body = driver.find_element(By.TAG_NAME, "body")
    return body.get_attribute("data-state") or "", body.get_attribute("data-layout") or ""


def node_ids(driver: WebDriver) -> set[str]:
    return {e.get_attribute("data-id") or "" for e in driver.find_elements(By.CSS_SELECTOR, "#graph g.node")}


def errors_in_console(driver: WebDriver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def click_node(driver: WebDriver, node_id: str) -> None:
    # Selenium clicks the element's centre, as a user would; the layout is stable by now.
    driver.find_element(By.CSS_SELECTOR, f'#graph g.node[data-id="{node_id}"] .shape').click()


async def test_page_loads_a_ring_expands_on_click_and_screenshots(
    consortium: LocalConsortium, browser: WebDriver, tmp_path: Path
) -> None:
    c = consortium
    ring = (await plant_device_ring(c))[-1].ring
    expected = await c.analyst.get_ring(ring_id=ring.ring_id)
    server = AnalystPageServer(lambda: AnalystClient(c.hub_channel("analyst/demo"), c.analyst.signer))
    server.start()
    try:
        await asyncio.to_thread(browser.get, f"{server.url}?ring={ring.ring_id}")
        await wait_for(lambda: page_state(browser) == ("ready", "stable"), "the ring to load and settle")
        assert node_ids(browser) == {n.id for n in expected.graph.nodes}
        assert browser.find_elements(By.CSS_SELECTOR, f'#rings button[data-ring="{ring.ring_id}"]')
        assert ring.ring_id in browser.find_element(By.ID, "inspector").text

        # Clicking an application reveals its own tokens (not in the ring graph: they link nothing).
        await asyncio.to_thread(click_node, browser, "lender-b/ring-4")
        await wait_for(
            lambda: page_state(browser)[0] == "ready" and len(node_ids(browser)) > len(expected.graph.nodes),
            "the node to expand",
        )
        grown = node_ids(browser)
        assert len(grown) == len(expected.graph.nodes) + 1  # ring-4's resident-id token
        selected = browser.find_element(By.CSS_SELECTOR, "#graph g.node.selected")
        assert selected.get_attribute("data-id") == "lender-b/ring-4"
        assert "expanded" in (selected.get_attribute("class") or "")
        assert "lender-b" in browser.find_element(By.ID, "inspector").text
        await wait_for(lambda: page_state(browser)[1] == "stable", "the layout to settle")

        # A page served under another name (DNS rebinding) is refused.
        assert server.host_allowed(f"localhost:{server.port}") and not server.host_allowed(
            f"evil.example:{server.port}"
        )
        shot = Path(os.environ.get("LIANFANG_SCREENSHOT_DIR", tmp_path)) / "graph-page.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        assert errors_in_console(browser) == []

        # An unknown ring is an error on the page, not a crash.
        await asyncio.to_thread(browser.get, f"{server.url}?ring=ring-00000000000000000000")
        await wait_for(lambda: page_state(browser)[0] == "error", "the error state")
        assert "not found" in browser.find_element(By.ID, "status").text
    finally:
        server.close()


async def test_standalone_page_works_offline(consortium: LocalConsortium, browser: WebDriver, tmp_path: Path) -> None:
    c = consortium
    ring = (await plant_device_ring(c))[-1].ring
    data = await ring_page_data(c.analyst, ring_id=ring.ring_id)
    page = tmp_path / "ring.html"
    page.write_text(standalone_page(data), encoding="utf-8")
    text = page.read_text()
    # Nothing is fetched from anywhere: the only URL is the SVG namespace, which is a name.
    assert "//" not in text.replace('"http://www.w3.org/2000/svg"', "").replace("// ", "").replace("://", "")
    assert "src=" not in text and 'href="static' not in text
    browser.get(page.as_uri())
    await wait_for(lambda: page_state(browser) == ("ready", "stable"), "the inlined ring")
    assert node_ids(browser) == {n["id"] for n in data["graph"]["nodes"]}
    click_node(browser, "lender-a/ring-0")
    await wait_for(lambda: len(node_ids(browser)) > len(data["graph"]["nodes"]), "an offline expansion")
    assert errors_in_console(browser) == []
