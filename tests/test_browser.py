"""End to end in a real headless Chromium, as users meet the demo (1280 px and 390 px wide).

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by scripts/bootstrap.sh) and the real
multilingual-e5-small encoder (built offline, ``real_encoder_path``); skips with the reason otherwise.
A tiny random model plays the distilled model served beside it (its ranking differs, which is all the
side-by-side view needs). Document embeddings are cached next to the test encoder, so only the first
run encodes the shipped corpus. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
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
DESKTOP, PHONE = (1280, 1500), (390, 844)

# A Nepali NTREX-128 sentence typed by hand into the box; its English original is in the shipped corpus.
NEPALI_QUERY_ID = "npi_Deva:ntrex128-0604-npi_Deva"
EXPECTED_ENGLISH = "'The sea is ours': landlocked Bolivia hopes court will reopen path to Pacific"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_encoder_path, tmp_path_factory):
    from tiny_models import make_tiny_model

    from optical_st import app

    distilled = tmp_path_factory.mktemp("distilled")
    make_tiny_model(distilled, [document.text for document in app.load_corpus().documents[::5]])
    state = app.DemoState(
        str(real_encoder_path),
        distilled_model=str(distilled / "model"),
        cache_dir=real_encoder_path.parent / "embeddings",
    )
    demo = app.build_demo(state)
    port = free_port()
    app.serve(demo, port=port, block=False)
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


def open_page(browser, url: str, size: tuple[int, int] = DESKTOP):
    """Load the page at a window size; returns the query box once it can be typed into."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(*size)
    browser.get(url)
    return WebDriverWait(browser, 30).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "#ost-query textarea"))
    )


def wait_for(browser, css: str, timeout: float = 30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def result_texts(browser, table: str = "#ost-results") -> list[str]:
    from selenium.webdriver.common.by import By

    rows = wait_for(browser, f"{table} tbody").find_elements(By.CSS_SELECTOR, "tr.ost-hit")
    return [row.find_element(By.CSS_SELECTOR, ".ost-text").text for row in rows]


def search_for(browser, box, query: str) -> list[str]:
    """Type ``query``, press Search, return the texts of the base model's results."""
    from selenium.webdriver.common.by import By

    box.send_keys(query)
    browser.find_element(By.ID, "ost-search").click()
    return result_texts(browser)


def tick_languages(browser, labels: list[str]) -> None:
    """Tick exactly the languages named ``labels`` in the document-language checkboxes."""
    from selenium.webdriver.common.by import By

    for box in browser.find_elements(By.CSS_SELECTOR, "#ost-languages input[type=checkbox]"):
        label = box.find_element(By.XPATH, "./ancestor::label")
        if box.is_selected() != (label.text in labels):
            label.click()


def test_nepali_query_finds_english_document(server, browser):
    from selenium.webdriver.common.by import By

    url, state = server
    box = open_page(browser, url)
    assert "Serving model" in browser.find_element(By.ID, "ost-serving").text
    texts = search_for(browser, box, state.corpus().by_id[NEPALI_QUERY_ID].text)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo-search.png"))
    assert texts[0] == EXPECTED_ENGLISH, texts
    assert browser.find_element(By.CSS_SELECTOR, "#ost-results .ost-lang").text == "English"


def test_every_shipped_language_is_ready_at_the_first_search(server, browser):
    """Item 2: the first search into every shipped language answers at once (nothing left to encode)."""
    from selenium.webdriver.common.by import By

    url, _ = server
    box = open_page(browser, url)
    tick_languages(browser, ["English", "Nepali", "Sinhala", "Hindi", "Bengali", "Tamil", "Urdu"])
    begin = time.perf_counter()
    texts = search_for(browser, box, "Bolivia wants access to the sea")
    elapsed = time.perf_counter() - begin
    assert elapsed < 5, f"first search into every language took {elapsed:.1f} s"
    assert len(texts) == 5
    assert "all indexed" in browser.find_element(By.ID, "ost-corpus").text


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_alignment_heatmap_scrolls_to_every_token_and_has_a_scale(server, browser, size):
    """Item 3: every teacher token can be scrolled into view; a colour scale; no tokenizer markers."""
    from selenium.webdriver.common.by import By

    url, state = server
    document = state.corpus().by_id[NEPALI_QUERY_ID]
    open_page(browser, url, size)
    browser.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Alignment')]").click()
    wait_for(browser, "#ost-sentence textarea").send_keys(document.text)
    browser.find_element(By.CSS_SELECTOR, "#ost-translation textarea").send_keys(document.english)
    browser.find_element(By.ID, "ost-align").click()
    heatmap = wait_for(browser, "#ost-heatmap")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"demo-alignment-{size[0]}.png"))
    cost = float(browser.find_element(By.ID, "ost-cost").text)
    assert 0.0 < cost < 2.0  # cosine cost lies in [0, 2]
    labels = [th.get_attribute("textContent") for th in heatmap.find_elements(By.CSS_SELECTOR, "th")]
    assert "sea" in labels and not any("▁" in label for label in labels)
    assert browser.find_element(By.ID, "ost-heat-scale").is_displayed()
    reach = browser.execute_script(
        """
        const table = arguments[0];
        let box = table.parentElement;
        while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
        if (!box) return null;
        box.scrollLeft = box.scrollWidth;
        const columns = table.querySelectorAll('thead th.ost-col');
        const last = columns[columns.length - 1].getBoundingClientRect(), view = box.getBoundingClientRect();
        return {lastRight: last.right, lastLeft: last.left, boxRight: view.right, boxLeft: view.left,
                window: window.innerWidth, scrolls: box.scrollWidth > box.clientWidth};
        """,
        heatmap,
    )
    assert reach is not None, "the heatmap has no scrolling container"
    assert reach["boxRight"] <= reach["window"] + 1
    assert reach["boxLeft"] - 1 <= reach["lastLeft"] and reach["lastRight"] <= reach["boxRight"] + 1, reach
    if size == PHONE:
        assert reach["scrolls"]


def test_phone_first_screen_has_the_query_box_and_results_fit(server, browser):
    """Item 4: at 390 px the query box is on the first screen and no result is wider than the screen."""

    url, state = server
    box = open_page(browser, url, PHONE)
    bottom = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", box)
    assert bottom <= browser.execute_script("return window.innerHeight"), bottom
    assert search_for(browser, box, state.corpus().by_id[NEPALI_QUERY_ID].text)[0] == EXPECTED_ENGLISH
    browser.save_screenshot(str(ARTIFACTS / "demo-phone.png"))
    widths = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " Math.max(...[...document.querySelectorAll('.ost-table, tr.ost-hit')].map(e => e.getBoundingClientRect().right))]"
    )
    page_width, window_width, widest = widths
    assert page_width <= window_width and widest <= window_width, widths


def test_enter_searches_and_shift_enter_adds_a_line(server, browser):
    """Item 5: Enter searches (as announced under the box); Shift+Enter starts a new line."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = server
    box = open_page(browser, url)
    assert "Enter searches" in browser.find_element(By.ID, "ost-query").text
    box.send_keys("landlocked Bolivia")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("sea")
    time.sleep(1)
    assert browser.find_elements(By.CSS_SELECTOR, "#ost-results") == []  # no search yet
    assert box.get_attribute("value") == "landlocked Bolivia\nsea"
    box.send_keys(Keys.ENTER)
    assert result_texts(browser)[0] == EXPECTED_ENGLISH
    assert box.get_attribute("value") == "landlocked Bolivia\nsea"


def test_example_click_searches_and_shows_its_text(server, browser):
    """Item 5: an example shows its sentence and, clicked, searches it."""
    from selenium.webdriver.common.by import By

    url, state = server
    nepali = state.corpus().by_id[NEPALI_QUERY_ID].text
    box = open_page(browser, url)
    examples = browser.find_element(By.ID, "ost-examples")
    assert nepali[:20] in examples.text
    examples.find_element(By.XPATH, ".//*[contains(text(), 'Nepali')]").click()
    assert result_texts(browser)[0] == EXPECTED_ENGLISH
    assert box.get_attribute("value") == nepali


def test_long_paste_is_reported_not_cut(server, browser):
    """Item 5: text beyond the limit stays in the box and the page says why it was not searched."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    box = open_page(browser, url)
    text = ("Bolivia sea court " * 34).strip()  # 611 characters
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    results = browser.find_element(By.ID, "ost-results-box")
    WebDriverWait(browser, 30).until(lambda _: "the limit is 500" in results.text)
    assert "611 characters; the limit is 500" in results.text
    assert box.get_attribute("value") == text
    assert browser.find_element(By.ID, "ost-query").get_attribute("innerText").count("500") >= 1


def test_scores_carry_a_calibrated_likely_translation_marker(server, browser):
    """Item 6: translations are marked by a threshold measured for the served model, and it is explained."""
    from selenium.webdriver.common.by import By

    url, state = server
    calibration = state.calibration()
    box = open_page(browser, url)
    tick_languages(browser, ["English", "Nepali", "Sinhala", "Hindi", "Bengali", "Tamil", "Urdu"])
    browser.execute_script(  # top-k = 10 through the slider's number box
        "const n = document.querySelector('#ost-topk input[type=number]'); n.value = 10;"
        "n.dispatchEvent(new Event('input', {bubbles: true})); n.dispatchEvent(new Event('change', {bubbles: true}));"
    )
    search_for(browser, box, state.corpus().by_id[NEPALI_QUERY_ID].text)
    rows = wait_for(browser, "#ost-results tbody").find_elements(By.CSS_SELECTOR, "tr.ost-hit")
    marked = {
        row.find_element(By.CSS_SELECTOR, ".ost-text").text: bool(
            row.find_elements(By.CSS_SELECTOR, ".ost-likely")
        )
        for row in rows
    }
    scores = [float(row.find_element(By.CSS_SELECTOR, ".ost-score").text.split()[0]) for row in rows]
    assert marked[EXPECTED_ENGLISH]
    assert [score >= calibration.threshold for score in scores] == list(marked.values())
    assert not all(marked.values()), "unrelated hits must not be marked"
    note = browser.find_element(By.CSS_SELECTOR, "#ost-results-box .ost-calibration").text
    assert f"{calibration.threshold:.3f}" in note and "known translation pairs" in note


def test_corpus_state_follows_uploads_and_no_server_path_is_shown(server, browser, tmp_path):
    """Item 7: the active corpus is always named, the upload box and examples follow it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, state = server
    good, bad = tmp_path / "mine.jsonl", tmp_path / "broken.tsv"
    rows = [
        {
            "english": "The river floods every summer.",
            "target": "नदीमा हरेक गर्मीमा बाढी आउँछ।",
            "language": "npi_Deva",
        }
    ]
    good.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    bad.write_text("english\ttarget\tlanguage\nhello\tनमस्ते\tklingon\n", encoding="utf-8")
    open_page(browser, url)
    serving = browser.find_element(By.ID, "ost-serving").text
    assert str(Path.home()) not in serving and str(state.default_model) not in serving
    browser.find_element(By.XPATH, "//button[contains(., 'Model and corpus')]").click()
    corpus_line = browser.find_element(By.ID, "ost-corpus")
    wait = WebDriverWait(browser, 60)

    def upload(path: Path) -> None:
        # the accordion renders the file input lazily and the box re-renders after every upload
        box = wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, "#ost-upload input[type=file]"))
        box[0].send_keys(str(path))

    upload(bad)
    wait.until(lambda _: "Upload not used" in corpus_line.text)
    assert "broken.tsv" in corpus_line.text and "NTREX-128" in corpus_line.text  # still active
    # the failed file is not left in the box (it would look active); the box takes the next upload
    wait.until(lambda _: "broken.tsv" not in browser.find_element(By.ID, "ost-upload").text)

    upload(good)
    wait.until(lambda _: "mine.jsonl" in corpus_line.text and "Upload not used" not in corpus_line.text)
    wait.until(lambda _: rows[0]["target"][:10] in browser.find_element(By.ID, "ost-examples").text)

    browser.find_element(By.ID, "ost-shipped").click()
    wait.until(lambda _: "NTREX-128" in corpus_line.text)
    wait.until(lambda _: "mine.jsonl" not in browser.find_element(By.ID, "ost-upload").text)
    nepali = state.corpus().by_id[NEPALI_QUERY_ID].text
    wait.until(lambda _: nepali[:20] in browser.find_element(By.ID, "ost-examples").text)


def test_distilled_model_ranking_is_shown_beside_the_base_model(server, browser):
    """Item 8: both models rank the same query, side by side on a desktop, with rank changes."""
    from selenium.webdriver.common.by import By

    url, state = server
    box = open_page(browser, url)
    assert "Distilled model" in browser.find_element(By.ID, "ost-serving").text
    assert search_for(browser, box, state.corpus().by_id[NEPALI_QUERY_ID].text)[0] == EXPECTED_ENGLISH
    assert len(result_texts(browser, "#ost-results-2")) == 5
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".ost-ranking h3")]
    assert headings == ["Base model: multilingual-e5-small", "Distilled model: model"]
    base, distilled = browser.find_elements(By.CSS_SELECTOR, ".ost-ranking")
    assert base.rect["y"] == distilled.rect["y"] and base.rect["x"] < distilled.rect["x"]  # side by side
    assert browser.find_elements(By.CSS_SELECTOR, "#ost-results-2 .ost-delta")
