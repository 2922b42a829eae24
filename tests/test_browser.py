"""End to end in a real headless Chromium: the demo finds the English translation of a typed Nepali query.

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by scripts/bootstrap.sh) and the real
multilingual-e5-small encoder (built offline, ``real_encoder_path``); skips with the reason otherwise.
Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1500",
)

# A Nepali NTREX-128 sentence typed by hand into the box; its English original is in the shipped corpus.
NEPALI_QUERY_ID = "npi_Deva:ntrex128-0604-npi_Deva"
EXPECTED_ENGLISH = "'The sea is ours': landlocked Bolivia hopes court will reopen path to Pacific"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_encoder_path):
    from optical_st import app

    state = app.DemoState(str(real_encoder_path), cache_dir=None)  # no disk cache: skips hashing the weights
    demo = app.build_demo(state)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False)
    yield f"http://127.0.0.1:{port}/", state
    demo.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_nepali_query_finds_english_document(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, state = server
    query = state.corpus().by_id[NEPALI_QUERY_ID].text
    wait = WebDriverWait(browser, 30)
    browser.get(url)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#ost-query textarea")))
    assert "Serving model" in browser.find_element(By.ID, "ost-serving").text
    box.send_keys(query)
    browser.find_element(By.ID, "ost-search").click()
    table = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#ost-results tbody")))
    rows = table.find_elements(By.CSS_SELECTOR, "tr.ost-hit")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo-search.png"))
    texts = [row.find_element(By.CSS_SELECTOR, ".ost-text").text for row in rows]
    assert EXPECTED_ENGLISH in texts, texts
    assert texts[0] == EXPECTED_ENGLISH
    assert rows[0].find_element(By.CSS_SELECTOR, ".ost-lang").text == "English"


def test_alignment_tab_draws_the_plan(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, state = server
    document = state.corpus().by_id[NEPALI_QUERY_ID]
    wait = WebDriverWait(browser, 30)
    browser.get(url)
    tab = wait.until(
        ec.element_to_be_clickable((By.XPATH, "//button[@role='tab' and contains(., 'Alignment')]"))
    )
    tab.click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#ost-sentence textarea"))).send_keys(
        document.text
    )
    browser.find_element(By.CSS_SELECTOR, "#ost-translation textarea").send_keys(document.english)
    browser.find_element(By.ID, "ost-align").click()
    heatmap = wait.until(ec.presence_of_element_located((By.ID, "ost-heatmap")))
    browser.save_screenshot(str(ARTIFACTS / "demo-alignment.png"))
    cost = float(browser.find_element(By.ID, "ost-cost").text)
    assert 0.0 < cost < 2.0  # cosine cost lies in [0, 2]
    teacher_tokens = heatmap.find_elements(By.CSS_SELECTOR, "thead th.ost-col")
    assert any("sea" in token.get_attribute("textContent") for token in teacher_tokens)
