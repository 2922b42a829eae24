"""The demo's logic as units: corpus loading/validation, search, escaping, alignment (tiny model, no browser)."""

from __future__ import annotations

import json
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


def test_shipped_corpus_is_small_licensed_and_loads():
    folder = app.SHIPPED_CORPUS.parent
    assert app.SHIPPED_CORPUS.stat().st_size < 1_000_000
    assert "CC BY-SA 4.0" in (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert (folder / "LICENSE-CC-BY-SA-4.0.md").is_file()
    corpus = app.load_corpus()
    low_resource = ["npi_Deva", "sin_Sinh", "hin_Deva", "ben_Beng", "tam_Taml", "urd_Arab"]
    assert corpus.languages == ["eng_Latn", *low_resource]
    assert len(corpus.documents_in("eng_Latn")) == 200
    assert all(len(corpus.documents_in(code)) == 200 for code in corpus.languages[1:])
    nepali = corpus.by_id["npi_Deva:ntrex128-0604-npi_Deva"]
    assert nepali.english.startswith("'The sea is ours'")
    assert set(app.example_queries(corpus)) == set(low_resource)


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
    monkeypatch.setattr(app, "MAX_UPLOAD_BYTES", 100)
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

    monkeypatch.setattr("optical_st.search.CorpusIndex.__init__", fail)
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
