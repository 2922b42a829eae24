"""Romanized text (issue 21): the romanizers, informal spelling, the registry's _Latn variants, romanized views
of bitext and benchmarks, cross-script training pairs, the train and evaluate paths, and the cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset
from tiny_models import make_tiny_model

from optical_st.cli import main
from optical_st.data import (
    SPELLING_RULES,
    Romanizer,
    bitext_benchmarks,
    document_retrieval_benchmark,
    informal_spelling,
    load_benchmarks,
    romanize_benchmark,
    romanize_bitext,
    sentence_retrieval_benchmark,
)
from optical_st.languages import (
    UnknownLanguageError,
    get_language,
    native_code,
    parse_languages,
    romanized_code,
)
from optical_st.training import clean_bitext, cross_script_pairs

NEPALI = ["मेरो देश नेपाल हो।", "काठमाडौं नेपालको राजधानी हो।", "हिमाल सुन्दर छ।", "नमस्ते"]
ENGLISH = [
    "My country is Nepal.",
    "Kathmandu is the capital of Nepal.",
    "The mountain is beautiful.",
    "Hello",
]


def nepali_bitext(doc_ids=("a", "a", "b", "b")) -> Dataset:
    return Dataset.from_dict({
        "id": [str(i) for i in range(4)], "language": ["npi_Deva"] * 4, "english": ENGLISH, "target": NEPALI,
        "doc_id": list(doc_ids), "source": ["flores200"] * 4,
    })  # fmt: skip


# ------------------------------------------------------------------------------------------ registry
def test_registry_knows_romanized_variants_of_the_fifteen():
    nepali = get_language("npi_Latn")
    assert nepali.native == "npi_Deva" and nepali.tier == "low" and nepali.script == "Latin"
    assert nepali.is_romanized and not get_language("npi_Deva").is_romanized
    assert get_language("ne_Latn") is nepali and get_language("romanized Nepali") is nepali
    assert get_language("hin-Latn").code == "hin_Latn" and native_code("hin_Latn") == "hin_Deva"
    assert romanized_code("si") == "sin_Latn" and romanized_code("sin_Latn") == "sin_Latn"
    with pytest.raises(UnknownLanguageError, match="Latin script already"):
        romanized_code("eng")
    assert parse_languages("low_Latn") == ["npi_Latn", "sin_Latn", "asm_Latn", "ory_Latn", "snd_Latn"]
    assert len(parse_languages("all_Latn")) == 15 and parse_languages("all")[0] == "hin_Deva"
    assert parse_languages("npi,npi_Latn") == ["npi_Deva", "npi_Latn"]


# ------------------------------------------------------------------------------------------ romanizers
def test_two_independent_backends_write_plain_lowercase_ascii():
    uroman, indic = Romanizer(), Romanizer("indic")
    assert uroman.romanize(NEPALI[0], "npi_Deva") == "mero desh nepaal ho."
    assert indic.romanize(NEPALI[0], "npi") == "mero desa nepala ho."
    for romanizer in (uroman, indic):
        for text in romanizer.romanize_all(NEPALI, "npi_Latn"):  # the _Latn code names the same language
            assert text.isascii() and text == text.lower()
    # a script the scheme cannot write is refused with its name, never passed through half-written
    assert not indic.supports("urd_Arab") and uroman.supports("urd_Latn")
    with pytest.raises(ValueError, match="no scheme for Urdu"):
        indic.romanize("پاکستان", "urd_Arab")
    assert uroman.romanize("پاکستان", "urd_Arab").isascii()


def test_romanizer_records_its_library_version_and_options():
    record = Romanizer.parse("indic:iso+noise=0.25+seed=3").to_dict()
    assert record["name"] == "indic-iso+noise0.25+seed3" and record["library"] == "indic-transliteration"
    assert record["version"] and record["noise"] == 0.25 and record["seed"] == 3
    assert "Hermjakob" in Romanizer().to_dict()["citation"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("latin", "unknown romanizer"), ("indic:klingon", "unknown indic-transliteration scheme"),
     ("uroman+noise=2", "between 0 and 1"), ("uroman+speed=1", "options are")],
)  # fmt: skip
def test_bad_romanizer_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        Romanizer.parse(spec)


def test_informal_spelling_is_seeded_by_the_text_and_follows_the_rules():
    text = "bhaarat kii raajadhaanii dillii hai. vishv shaanti phal nepala"
    assert informal_spelling(text, 0.0, seed=0) == text
    assert informal_spelling(text, 0.5, seed=1) == informal_spelling(text, 0.5, seed=1)
    assert len({informal_spelling(text, 0.5, seed=s) for s in range(8)}) > 1
    # every rule fires somewhere at noise 1
    for rule in SPELLING_RULES:
        assert rule.pattern.search(text), rule.name
    noisy = informal_spelling(text, 1.0, seed=0)
    assert "bh" not in noisy and "aa" not in noisy and "ll" not in noisy and "sh" not in noisy
    assert "wisw" in noisy and "fal" in noisy and noisy.endswith("nepal")
    # the romanizer's noise depends on (seed, language, sentence), not on the other sentences
    romanizer = Romanizer(noise=0.5, seed=7)
    assert romanizer.romanize_all(NEPALI, "npi")[1] == romanizer.romanize_all(NEPALI[1:2], "npi")[0]


# ------------------------------------------------------------------------------------------ views
def test_romanized_bitext_offers_the_cross_script_direction():
    view = romanize_bitext(nepali_bitext())
    assert set(view["language"]) == {"npi_Latn"} and view["native"] == NEPALI
    assert view["target"][0] == "mero desh nepaal ho."
    for build, n_docs in ((sentence_retrieval_benchmark, 4), (document_retrieval_benchmark, 2)):
        benchmark = build(view, "xx_Latn->xx")
        assert (benchmark.query_language, benchmark.document_language) == ("npi_Latn", "npi_Deva")
        assert len(benchmark.corpus) == n_docs and set(benchmark.corpus["text"]) <= {
            *NEPALI,
            " ".join(NEPALI[:2]),
            " ".join(NEPALI[2:]),
        }
        assert build(view, "eng->xx").document_language == "npi_Latn"
    with pytest.raises(ValueError, match="needs a romanized bitext"):
        sentence_retrieval_benchmark(nepali_bitext(), "xx_Latn->xx")
    with pytest.raises(ValueError, match="romanized already"):
        romanize_bitext(view)


def test_bitext_benchmarks_name_and_record_the_romanizer(tmp_path):
    path = tmp_path / "ne.jsonl"
    nepali_bitext().to_json(path, force_ascii=False)
    built = bitext_benchmarks(
        path, "npi_Latn,npi", directions="xx->eng,xx_Latn->xx", romanizer=Romanizer("indic")
    )
    pairs = [(b.query_language, b.document_language) for b in built]
    # the native language skips the cross-script direction; the romanized one has all three sides
    assert pairs == [("npi_Latn", "eng_Latn"), ("npi_Latn", "npi_Deva"), ("npi_Deva", "eng_Latn")]
    assert (
        built[0].name.endswith("-indic-iso")
        and built[0].metadata["romanizer"]["library"] == "indic-transliteration"
    )
    assert "romanizer" not in built[2].metadata
    assert built[0].metadata["licence"] == built[2].metadata["licence"]  # a view keeps its source's licence


def test_romanize_benchmark_views_a_saved_benchmark(tmp_path):
    native = sentence_retrieval_benchmark(nepali_bitext(), "eng->xx")
    view = romanize_benchmark(native)
    assert (view.query_language, view.document_language) == ("eng_Latn", "npi_Latn")
    assert view.queries["text"] == ENGLISH and view.corpus["text"][0] == "mero desh nepaal ho."
    assert view.relevant_docs() == native.relevant_docs() and "npi_Latn" in view.name
    loaded = load_benchmarks(native.save(tmp_path / "saved"), "npi_Latn")
    assert [b.document_language for b in loaded] == ["npi_Latn"]


def test_shared_flores_views(shared_data):
    flores = shared_data / "flores200"
    built = bitext_benchmarks(flores, "sin_Latn,snd_Latn", directions="xx->eng", max_pairs=40)
    assert [b.query_language for b in built] == ["sin_Latn", "snd_Latn"] and len(built[0].queries) == 40
    assert all(text.isascii() for text in built[0].queries["text"])
    # the indic scheme has no Arabic script: a group leaves Sindhi out, a named language is an error
    low = bitext_benchmarks(
        flores, "low_Latn", directions="xx->eng", max_pairs=10, romanizer=Romanizer("indic")
    )
    assert [b.query_language for b in low] == ["npi_Latn", "sin_Latn", "asm_Latn", "ory_Latn"]
    with pytest.raises(ValueError, match="no scheme for Sindhi"):
        bitext_benchmarks(flores, "snd_Latn", max_pairs=5, romanizer=Romanizer("indic"))
    xquad = load_benchmarks(shared_data / "xquad_r", "hin_Latn", directions="xx->eng")
    assert [b.query_language for b in xquad] == ["hin_Latn"] and xquad[0].queries["text"][0].isascii()


# ------------------------------------------------------------------------------------------ pairs
def test_cross_script_pairs_mix_native_and_romanized_students():
    pairs = cross_script_pairs(nepali_bitext(), native_share=0.5, seed=0)
    kinds = pairs["kind"]
    assert sorted(kinds) == ["native", "native", "romanized", "romanized"]
    for row in pairs:
        assert row["english"] == row["native"]  # the teacher reads the native sentence
        if row["kind"] == "native":
            assert row["target"] == row["native"] and row["language"] == "npi_Deva" and not row["romanizer"]
        else:
            assert row["target"].isascii() and row["language"] == "npi_Latn"
            assert json.loads(row["romanizer"])["name"] == "uroman"
    english = cross_script_pairs(nepali_bitext(), native_share=0.0, teacher_side="english")
    assert english["english"] == ENGLISH and set(english["kind"]) == {"romanized"}
    # repeated sentences once; plain text needs a language; English teacher text needs bitext
    assert len(cross_script_pairs([*NEPALI, NEPALI[0]], language="ne")) == 4
    with pytest.raises(ValueError, match="language="):
        cross_script_pairs(NEPALI)
    with pytest.raises(ValueError, match="needs bitext"):
        cross_script_pairs(NEPALI, language="ne", teacher_side="english")
    with pytest.raises(ValueError, match="between 0 and 1"):
        cross_script_pairs(NEPALI, language="ne", native_share=1.5)


def test_overlap_filter_checks_the_native_side_of_romanized_pairs():
    pairs = cross_script_pairs(nepali_bitext(), native_share=0.0, teacher_side="english")
    kept, counts = clean_bitext(pairs, exclude_texts=[NEPALI[1]])
    assert counts["overlap"] == 1 and NEPALI[1] not in kept["native"]


# ------------------------------------------------------------------------------------------ commands
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-romanized")
    texts = [*ENGLISH, *NEPALI, *Romanizer().romanize_all(NEPALI, "npi")]
    make_tiny_model(directory / "base", texts * 3)
    return directory / "base" / "model"


def test_train_and_evaluate_romanized_from_the_command_line(tiny_dir, tmp_path, capsys):
    data = tmp_path / "pairs.jsonl"
    Dataset.from_dict({"english": ENGLISH * 3, "target": NEPALI * 3, "language": ["npi_Deva"] * 12}).to_json(
        data, force_ascii=False
    )
    held_out = tmp_path / "held.jsonl"
    Dataset.from_dict({"english": ["A new sentence.", "Another one."], "target": ["नयाँ वाक्य", "अर्को"],
                       "language": ["npi_Deva"] * 2}).to_json(held_out, force_ascii=False)  # fmt: skip
    out = tmp_path / "run"
    argv = ["train", "--teacher", str(tiny_dir), "--bitext", str(data), "--romanize", "uroman+noise=0.3",
            "--native-share", "0.5", "--loss", "mse", "--steps", "2", "--batch-size", "2",
            "--eval-benchmark", str(held_out), "--eval-k", "1", "--save-steps", "0", "--output-dir", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out / "training_run.json").read_text())
    assert run["languages"] == ["npi_Deva", "npi_Latn"]
    record = json.loads((out / "final" / "optical_st_run.json").read_text())
    romanized = [item for item in record["training_info"]["bitext"] if item.get("romanizer")]
    assert romanized and romanized[0]["romanizer"]["name"] == "uroman+noise0.3"
    push = ["push-model", str(out / "final"), "me/npi-latn", "--dry-run", "--license", "mit",
            "--local-dir", str(tmp_path / "card")]  # fmt: skip
    assert main(push) == 0
    card = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    assert "romanized by uroman+noise0.3, uroman" in card and "hermjakob2018uroman" in card
    capsys.readouterr()

    results = tmp_path / "results.json"
    assert main(["evaluate", "--model", str(out / "final"), "--benchmark", str(held_out), "--languages",
                 "npi_Latn", "--directions", "xx->eng,xx_Latn->xx", "--romanizer", "uroman", "--romanizer",
                 "indic", "--k", "1", "--bootstrap", "0", "--output", str(results)]) == 0  # fmt: skip
    rows = json.loads(results.read_text())["results"]
    named = {(row["key"], row.get("romanizer")) for row in rows if row["query_language"] != "*"}
    assert named == {
        ("npi_Latn->eng_Latn_uroman", "uroman"),
        ("npi_Latn->npi_Deva_uroman", "uroman"),
        ("npi_Latn->eng_Latn_indic-iso", "indic-iso"),
        ("npi_Latn->npi_Deva_indic-iso", "indic-iso"),
    }


def test_bad_romanize_options_fail_before_any_work(tmp_path, capsys):
    assert main(["train", "--bitext", "x", "--romanize", "latin", "--output-dir", str(tmp_path / "o")]) == 1
    assert "unknown romanizer" in capsys.readouterr().err
    assert main(["train", "--bitext", "x", "--native-share", "2", "--output-dir", str(tmp_path / "o")]) == 1
    assert "--native-share must be between 0 and 1" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tmp_path), "--benchmark", "x", "--romanizer", "uroman",
                 "--romanizer", "indic", "--languages", "npi"]) == 1  # fmt: skip
    assert "romanized --languages" in capsys.readouterr().err


def test_pushed_romanized_view_keeps_licence_and_credits_the_romanizer(tmp_path):
    from optical_st import hub

    view = romanize_benchmark(sentence_retrieval_benchmark(nepali_bitext(), "xx->eng"))
    folder = Path(hub.push_benchmark([view], "me/npi-latn", local_dir=tmp_path / "repo", dry_run=True))
    card = (folder / "README.md").read_text(encoding="utf-8")
    metadata = hub.validate_card(card, "dataset")
    assert metadata["license"] == "cc-by-sa-4.0"
    assert "## Romanization" in card and "uroman" in card and "Hermjakob" in card and "NLLB" in card


# ------------------------------------------------------------------------------------------ the demo
def test_the_romanized_guess_reads_the_corpus_words():
    from optical_st.app._script import RomanizedQueryGuesser

    english = ["Kathmandu is the capital of Nepal.", "The river floods every summer.", "My country is Nepal."]
    guesser = RomanizedQueryGuesser.from_texts({"eng_Latn": english, "npi_Deva": NEPALI})
    assert guesser.guess("mero desh nepaal ho").codes == ("npi_Latn",)
    assert guesser.guess("mero desh nepal ho").label == "romanized Nepali"
    assert guesser.guess("The capital of Nepal") is None  # English
    assert guesser.guess("मेरो देश") is None  # native script is not a romanized query


def test_a_romanized_query_gets_no_marker_from_the_latin_calibration():
    """The Latin-script calibration is measured on English queries: a romanized query is not one."""
    from optical_st import app

    latin = app.ScoreCalibration(0.86, 0.9, 0.05, 100, 100, 10, floor=0.84, script="Latn")
    calibrations = app.ScriptCalibrations(app.ScoreCalibration(0.87, 0.9, 0.05, 300, 300, 10, floor=0.85),
                                          {"Latn": latin})  # fmt: skip
    assert calibrations.for_query("the capital of Nepal").likely(0.99)
    romanized = calibrations.for_query("mero desh nepal ho", romanized=True)
    assert not romanized.likely(0.99) and romanized.no_close_match(0.83) and romanized.script == "Latn"


def test_demo_says_romanized_above_the_results(tmp_path):
    from optical_st.app import DemoState
    from optical_st.app._views import Session, search_view

    rows = [{"id": str(i), "language": "npi_Deva", "english": e, "target": t}
            for i, (e, t) in enumerate(zip(ENGLISH, NEPALI, strict=True))]  # fmt: skip
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    make_tiny_model(tmp_path / "tiny", [*ENGLISH, *NEPALI])
    state = DemoState(str(tmp_path / "tiny" / "model"), cache_dir=None)
    key = state.add_corpus(corpus)
    # the guesser builds in the background: a query never waits for it, and gets no guess until it is ready
    assert state.romanized_guess("mero desh nepaal ho", key) is None
    assert state.romanized_guess("mero desh nepaal ho", key, wait=True).codes == ("npi_Latn",)
    html = search_view(state, Session(corpus=key), "mero desh nepaal ho", ["eng_Latn", "npi_Deva"], 3)
    assert 'id="ost-script-note"' in html and "romanized Nepali?" in html
    assert 'class="ost-likely"' not in html
    assert 'id="ost-script-note"' not in search_view(
        state, Session(corpus=key), "My country", ["eng_Latn"], 3
    )


def test_languages_command_lists_the_romanized_variants(capsys):
    assert main(["languages", "--romanized", "--tier", "low"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["npi_Latn", "npi_Deva"] and len(lines) == 6


def test_romanized_report_rows_carry_objective_seeds_romanizer_and_paired_difference(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
    import romanized_report

    def cell(objective: str, seed: int, hits: list[float]) -> dict:
        rows = [
            {"task": "flores-uroman", "key": key, "query_language": query, "document_language": "eng_Latn", "level": "sentence",
             "metric": "recall", "k": 1, "value": float(np.mean(hits)), "ci_low": 0.0, "ci_high": 1.0,
             "n_queries": len(hits), **({"romanizer": "uroman"} if query.endswith("Latn") else {})}
            for key, query in (("npi_Latn->eng_Latn", "npi_Latn"), ("npi_Deva->eng_Latn", "npi_Deva"))
        ]  # fmt: skip
        per_query = {f"flores-uroman/{row['key']}": {"query_ids": list(range(len(hits))), "recall@1": hits}
                     for row in rows}  # fmt: skip
        return {"objective": objective, "seed": seed, "results": rows, "per_query": per_query}

    cells = {
        "zero-shot": {0: cell("zero-shot", 0, [0, 0, 0, 1] * 5)},
        "mse": {0: cell("mse", 0, [0, 1, 0, 1] * 5), 1: cell("mse", 1, [1, 1, 0, 0] * 5)},
        "ot+sentence": {
            0: cell("ot+sentence", 0, [1, 1, 1, 0] * 5),
            1: cell("ot+sentence", 1, [1, 1, 0, 1] * 5),
        },
    }
    rows = romanized_report.summary_rows(cells, n_resamples=200)
    romanized = {r["objective"]: r for r in rows if r["script"] == "romanized" and r["metric"] == "recall@1"}
    assert romanized["zero-shot"]["value"] == 0.25 and romanized["zero-shot"]["seeds"] == []
    assert romanized["mse"]["value"] == 0.5 and romanized["mse"]["seeds"] == [0, 1]
    assert romanized["ot+sentence"]["value"] == 0.75 and romanized["ot+sentence"]["spread"] == 0.0
    assert romanized["ot+sentence"]["delta_vs_mse"] == pytest.approx(0.25)
    assert romanized["ot+sentence"]["romanizer"] == "uroman" and romanized["mse"]["language"] == "npi_Deva"
    assert romanized["ot+sentence"]["delta_ci_low"] <= 0.25 <= romanized["ot+sentence"]["delta_ci_high"]
    assert "75.0 ± 0.0 (+25.0)" in romanized_report.headline(rows, cells)
