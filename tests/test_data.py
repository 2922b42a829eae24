"""The data layer: real loaders return the published counts, bad input fails with file and line,
benchmark builders produce the right qrels, and benchmarks survive a save/load round trip."""

from __future__ import annotations

import json
import sys
import types
import warnings
from collections import Counter
from pathlib import Path

import pytest
from datasets import Dataset

from optical_st.data import (
    BITEXT_COLUMNS,
    SOURCES,
    BenchmarkValidationError,
    BitextValidationError,
    CLIRBenchmark,
    DuplicatePairsWarning,
    HeldOutDataWarning,
    detect_layout,
    document_retrieval_benchmark,
    is_held_out_flores_article,
    load_benchmark,
    load_bitext,
    load_xquad_r,
    sentence_retrieval_benchmark,
)
from optical_st.languages import UnknownLanguageError

# Counts from ../shared/data/README.md ("Per-language coverage"), per language and split.
FLORES200_LANGUAGES = [
    "hin_Deva",
    "ben_Beng",
    "urd_Arab",
    "npi_Deva",
    "sin_Sinh",
    "tam_Taml",
    "tel_Telu",
    "mar_Deva",
    "guj_Gujr",
    "pan_Guru",
    "kan_Knda",
    "mal_Mlym",
    "ory_Orya",
    "asm_Beng",
    "snd_Arab",
]
FLORESV1 = {
    "npi_Deva": {"dev": 2559, "devtest": 2835, "test": 2924},
    "sin_Sinh": {"dev": 2898, "devtest": 2766, "test": 2905},
}
NTREX_LANGUAGES = [code for code in FLORES200_LANGUAGES if code not in ("ory_Orya", "asm_Beng")]
TICO19_LANGUAGES = ["hin_Deva", "ben_Beng", "urd_Arab", "npi_Deva", "tam_Taml", "mar_Deva"]
TATOEBA_LASER = {
    "ben_Beng": 1000, "hin_Deva": 1000, "mal_Mlym": 687, "mar_Deva": 1000, "tam_Taml": 307, "tel_Telu": 234,
    "urd_Arab": 1000,
}  # fmt: skip
TATOEBA_CHALLENGE = {
    "asm_Beng": 239, "ben_Beng": 2500, "hin_Deva": 5000, "mal_Mlym": 802, "mar_Deva": 10396, "tam_Taml": 311,
    "tel_Telu": 261, "urd_Arab": 1663,
}  # fmt: skip


def load_quietly(*args, **kwargs) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicatePairsWarning)
        return load_bitext(*args, **kwargs)


def counts(bitext: Dataset) -> dict[str, int]:
    return dict(Counter(bitext["language"][:]))


# ------------------------------------------------------------------------------------------------
# Real data: counts of ../shared/data/README.md


@pytest.fixture(scope="session")
def flores200(shared_data) -> Dataset:
    return load_quietly(shared_data / "flores200")


def test_flores200_counts_splits_and_documents(shared_data, flores200):
    assert flores200.column_names == list(BITEXT_COLUMNS)
    assert counts(flores200) == dict.fromkeys(FLORES200_LANGUAGES, 1040)
    nepali = flores200.filter(lambda row: row["language"] == "npi_Deva")
    assert len(set(nepali["doc_id"][:])) == 342
    assert nepali[0]["doc_id"].startswith("https://") and set(flores200["source"][:]) == {"flores200"}
    assert len(load_bitext(shared_data / "flores200", "ne", split="dev")) == 509
    assert len(load_bitext(shared_data / "flores200", "ne", split="devtest")) == 531


def test_shared_flores200_has_no_held_out_article(shared_data, flores200):
    devtest_urls = set(load_bitext(shared_data / "flores200", "hi", split="devtest")["doc_id"][:])
    assert len(devtest_urls) == 143
    assert not any(is_held_out_flores_article(url) for url in devtest_urls)


def test_held_out_flores_articles_are_flagged(tmp_path):
    urls = [f"https://en.wikinews.org/wiki/Article_{i}" for i in range(6)]
    held_out = [url for url in urls if is_held_out_flores_article(url)]
    assert 0 < len(held_out) < len(urls)  # the rule splits articles, it does not flag everything
    write(tmp_path / "eng_Latn.txt", "".join(f"Sentence {i}.\n" for i in range(6)))
    write(tmp_path / "npi_Deva.txt", "".join(f"वाक्य {i}।\n" for i in range(6)))
    rows = "".join(f"{i}\tdevtest\t{url}\n" for i, url in enumerate(urls))
    write(tmp_path / "metadata.tsv", "id\tflores_split\tURL\n" + rows)
    with pytest.warns(HeldOutDataWarning, match=f"{len(held_out)} FLORES-200 devtest articles"):
        load_bitext(tmp_path)


def test_flores200_is_multiway_parallel_by_id(flores200):
    english_by_id = {}
    for row in flores200.select(range(0, len(flores200), 97)):
        assert english_by_id.setdefault(row["id"], row["english"]) == row["english"]


@pytest.mark.parametrize("alias", ["ne", "npi", "npi_Deva", "Nepali", "NEPALI"])
def test_language_aliases_select_the_same_rows(shared_data, alias):
    bitext = load_bitext(shared_data / "flores200", alias, split="dev")
    assert counts(bitext) == {"npi_Deva": 509}


def test_tier_and_list_selection(shared_data):
    low = load_bitext(shared_data / "flores200", "low", split="dev")
    assert set(counts(low)) == {"npi_Deva", "sin_Sinh", "asm_Beng", "ory_Orya", "snd_Arab"}
    assert counts(load_bitext(shared_data / "flores200", ["hi", "ur"], split="dev")) == {
        "hin_Deva": 509,
        "urd_Arab": 509,
    }


def test_floresv1_counts_per_split(shared_data):
    for split in ("dev", "devtest", "test"):
        bitext = load_quietly(shared_data / "floresv1_ne_si", split=split)
        assert counts(bitext) == {code: by_split[split] for code, by_split in FLORESV1.items()}
    nepali = load_quietly(shared_data / "floresv1_ne_si", "ne", split="test")
    assert nepali[0]["id"] == "test:0" and nepali[0]["doc_id"]


def test_ntrex128_counts_and_documents(shared_data):
    bitext = load_quietly(shared_data / "ntrex128")
    assert counts(bitext) == dict.fromkeys(NTREX_LANGUAGES, 1997)
    assert len(set(bitext["doc_id"][:])) == 123


def test_tico19_counts_per_split(shared_data):
    assert counts(load_quietly(shared_data / "tico19", split="dev")) == dict.fromkeys(TICO19_LANGUAGES, 971)
    test = load_quietly(shared_data / "tico19", split="test")
    assert counts(test) == dict.fromkeys(TICO19_LANGUAGES, 2100)
    assert test[0]["id"].startswith("test:") and ":" not in test[0]["doc_id"]


def test_tatoeba_counts(shared_data):
    assert counts(load_quietly(shared_data / "tatoeba_laser")) == TATOEBA_LASER
    assert counts(load_quietly(shared_data / "tatoeba_challenge")) == TATOEBA_CHALLENGE


def test_tatoeba_challenge_duplicates_are_reported_and_removed(shared_data):
    with pytest.warns(DuplicatePairsWarning, match=r"asm_Beng: 67 duplicate pairs, 106 repeated English"):
        assamese = load_bitext(shared_data / "tatoeba_challenge", "as")
    assert len(assamese) == 239
    with pytest.warns(DuplicatePairsWarning, match="removed"):
        deduped = load_bitext(shared_data / "tatoeba_challenge", "as", dedupe=True)
    assert len(deduped) == 239 - 67
    assert len({(row["english"], row["target"]) for row in deduped}) == len(deduped)


def test_unavailable_language_lists_what_the_source_has(shared_data):
    with pytest.raises(ValueError, match=r"no ory_Orya .*available: .*hin_Deva"):
        load_bitext(shared_data / "ntrex128", "or")
    with pytest.raises(ValueError, match="has splits dev, test"):
        load_bitext(shared_data / "tico19", "hi", split="devtest")
    with pytest.raises(ValueError, match="no named splits"):
        load_bitext(shared_data / "tatoeba_laser", "hi", split="test")


def test_layouts_are_detected(shared_data):
    for name in ("flores200", "floresv1_ne_si", "ntrex128", "tico19", "tatoeba_laser", "tatoeba_challenge"):
        assert detect_layout(shared_data / name) == name
    assert detect_layout(shared_data / "xquad_r") == "xquad_r"
    with pytest.raises(ValueError, match="load_xquad_r"):
        load_bitext(shared_data / "xquad_r")


def test_xquad_r_hindi_questions_to_english_answer_sentences(shared_data):
    benchmark = load_xquad_r(shared_data / "xquad_r")
    assert (len(benchmark.queries), len(benchmark.corpus)) == (1190, 1180)
    assert benchmark.metadata["level"] == "passage" and benchmark.metadata["licence"] == "CC BY-SA 4.0"
    # The relevant English sentence must contain the English answer of the same question id.
    english = json.loads((shared_data / "xquad_r" / "en.json").read_text(encoding="utf-8"))
    answers = {
        qa["id"]: qa["answers"][0]["text"]
        for article in english["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }
    corpus = dict(zip(benchmark.corpus["_id"][:], benchmark.corpus["text"][:], strict=True))
    relevant = benchmark.relevant_docs()
    assert len(relevant) == 1190
    contained, split_by_upstream_break = 0, 0
    for query_id, docs in relevant.items():
        (doc,) = docs
        answer, sentence = answers[query_id], corpus[doc]
        if answer in sentence:
            contained += 1
        elif any(sentence.endswith(answer[:cut]) for cut in range(len(answer) - 1, 2, -1)):
            # LAReQA's rule uses answer_start: an answer crossing an upstream sentence break
            # ("E.I. | du Pont") belongs to the sentence where it starts.
            split_by_upstream_break += 1
    assert (contained, split_by_upstream_break) == (1187, 3)


def test_xquad_r_hindi_pool_merges_the_one_repeated_sentence(shared_data):
    benchmark = load_xquad_r(shared_data / "xquad_r", "en", "hi")
    assert benchmark.query_language == "eng_Latn" and benchmark.document_language == "hin_Deva"
    assert benchmark.metadata["n_candidate_sentences"] == 1244
    assert len(benchmark.corpus) == 1243 and benchmark.metadata["merged_duplicate_documents"] == 1


def test_flores_document_benchmark_each_sentence_is_inside_its_article(flores200):
    nepali = flores200.filter(lambda row: row["language"] == "npi_Deva")
    benchmark = document_retrieval_benchmark(nepali, "xx->eng")
    assert len(benchmark.corpus) == 342 and len(benchmark.queries) == 1040
    corpus = dict(zip(benchmark.corpus["_id"][:], benchmark.corpus["text"][:], strict=True))
    relevant = benchmark.relevant_docs()
    for row in nepali.select(range(0, 1040, 7)):
        (doc,) = relevant[f"npi_Deva:{row['id']}"]
        assert doc == row["doc_id"] and row["english"] in corpus[doc]


def test_flores_sentence_benchmark_both_directions(flores200):
    sinhala = flores200.filter(lambda row: row["language"] == "sin_Sinh")
    forward = sentence_retrieval_benchmark(sinhala, "xx->eng")
    backward = sentence_retrieval_benchmark(sinhala, "eng->xx")
    assert len(forward.queries) == len(forward.corpus) == len(forward.qrels) == 1040
    assert forward.queries[0]["language"] == "sin_Sinh" and forward.corpus[0]["language"] == "eng_Latn"
    assert backward.queries[0]["text"] == sinhala[0]["english"]
    assert backward.corpus[0]["text"] == sinhala[0]["target"]
    assert forward.metadata["licence"] == "CC BY-SA 4.0" and "nllb2022" in forward.metadata["citation"]


# ------------------------------------------------------------------------------------------------
# Bad input: every case names the file and the 1-based line


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def pair(tmp_path):
    english = write(tmp_path / "train.en", "Hello.\nThank you.\nGood night.\n")
    nepali = write(tmp_path / "train.ne", "नमस्ते।\nधन्यवाद।\nशुभ रात्री।\n")
    return english, nepali


def test_line_aligned_pair_loads(pair):
    bitext = load_bitext(pair, "ne")
    assert bitext["target"][:] == ["नमस्ते।", "धन्यवाद।", "शुभ रात्री।"]
    assert set(bitext["language"][:]) == {"npi_Deva"} and bitext["id"][:] == ["0", "1", "2"]


def test_mismatched_line_counts(pair):
    _english, nepali = pair
    write(nepali, "नमस्ते।\nधन्यवाद।\n")
    with pytest.raises(
        BitextValidationError, match=r"different line counts: .*train\.en: 3 lines; .*train\.ne: 2"
    ):
        load_bitext(pair, "ne")


def test_empty_line_names_file_and_line(pair):
    _english, nepali = pair
    write(nepali, "नमस्ते।\n   \nशुभ रात्री।\n")
    with pytest.raises(BitextValidationError, match=r"train\.ne:2: empty line"):
        load_bitext(pair, "ne")


def test_wrong_encoding_names_the_line(pair):
    english, _nepali = pair
    write(english, "Hello.\nThank you.\nCaf\xe9 night.\n".encode("latin-1"))
    with pytest.raises(BitextValidationError, match=r"train\.en:3: not valid UTF-8 \(byte 0xe9"):
        load_bitext(pair, "ne")


def test_unknown_language_argument_lists_codes(pair):
    with pytest.raises(UnknownLanguageError, match=r"'xx'.*npi_Deva"):
        load_bitext(pair, "xx")


def test_file_pair_needs_a_language(pair):
    with pytest.raises(ValueError, match="needs language="):
        load_bitext(pair)


def test_user_tsv_with_language_column(tmp_path):
    path = write(
        tmp_path / "mine.tsv",
        'english\ttarget\tlanguage\nHe said "yes".\tउहाँले "हो" भन्नुभयो।\tne\nWater\tජලය\tSinhala\n',
    )
    bitext = load_bitext(path)
    assert bitext["language"][:] == ["npi_Deva", "sin_Sinh"]
    assert bitext[0]["english"] == 'He said "yes".' and bitext[0]["source"] == "mine"
    assert counts(load_bitext(path, "si")) == {"sin_Sinh": 1}


def test_user_tsv_unknown_language_names_the_line(tmp_path):
    path = write(tmp_path / "mine.tsv", "english\ttarget\tlanguage\nWater\tජලය\tsi\nFire\tfeu\tfr\n")
    with pytest.raises(BitextValidationError, match=r"mine\.tsv:3: Unknown language 'fr'"):
        load_bitext(path)


def test_user_tsv_empty_cell_and_missing_column(tmp_path):
    path = write(tmp_path / "a.tsv", "english\ttarget\nWater\t\n")
    with pytest.raises(BitextValidationError, match=r"a\.tsv:2: empty target"):
        load_bitext(path, "si")
    path = write(tmp_path / "b.tsv", "english\tnepali\nWater\tपानी\n")
    with pytest.raises(BitextValidationError, match=r"b\.tsv:2: missing column\(s\) \['target'\]"):
        load_bitext(path, "ne")
    path = write(tmp_path / "c.tsv", "english\ttarget\nWater\tपानी\textra\n")
    with pytest.raises(BitextValidationError, match=r"c\.tsv:2: 3 fields"):
        load_bitext(path, "ne")
    path = write(tmp_path / "d.tsv", "english\ttarget\nWater\tपानी\n")
    with pytest.raises(BitextValidationError, match=r"d\.tsv:2: no language column"):
        load_bitext(path)


def test_user_jsonl(tmp_path):
    rows = [
        {"english": "Water", "target": "पानी", "language": "npi", "doc_id": "d1", "id": "a"},
        {"english": "Fire", "target": "आगो", "language": "npi_Deva", "doc_id": "d1", "id": "b"},
    ]
    path = write(tmp_path / "mine.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    bitext = load_bitext(path)
    assert bitext["id"][:] == ["a", "b"] and bitext["doc_id"][:] == ["d1", "d1"]
    write(path, json.dumps(rows[0], ensure_ascii=False) + "\n{not json}\n")
    with pytest.raises(BitextValidationError, match=r"mine\.jsonl:2: invalid JSON"):
        load_bitext(path)


def test_json_values_must_be_text(tmp_path):
    rows = [
        {"english": "Water", "target": "पानी", "language": "npi"},
        {"english": 123, "target": "आगो", "language": "npi"},
    ]
    path = write(tmp_path / "numbers.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    with pytest.raises(
        BitextValidationError, match=r"numbers\.jsonl:2: english must be text, got the int 123"
    ):
        load_bitext(path)


def test_hub_translation_format(tmp_path):
    path = write(tmp_path / "opus.jsonl", json.dumps({"translation": {"en": "Water", "si": "ජලය"}}) + "\n")
    bitext = load_bitext(path)
    assert (bitext[0]["english"], bitext[0]["target"], bitext[0]["language"]) == ("Water", "ජලය", "sin_Sinh")
    write(path, json.dumps({"translation": {"en": "Water", "si": "ජලය", "ne": "पानी"}}) + "\n")
    with pytest.raises(BitextValidationError, match=r"opus\.jsonl:1: a translation record needs"):
        load_bitext(path)


def test_repeated_ids_are_an_error(tmp_path):
    path = write(tmp_path / "ids.tsv", "id\tenglish\ttarget\nx\tWater\tपानी\nx\tFire\tआगो\n")
    with pytest.raises(BitextValidationError, match=r"ids\.tsv:3: id 'x' already used at .*ids\.tsv:2"):
        load_bitext(path, "ne")


def test_duplicates_warn_with_counts_and_dedupe(tmp_path):
    path = write(tmp_path / "dup.tsv", "english\ttarget\nWater\tपानी\nWater\tपानी\nWater\tजल\nFire\tआगो\n")
    with pytest.warns(
        DuplicatePairsWarning, match=r"1 duplicate pairs, 2 repeated English sentences, 1 repeated"
    ):
        assert len(load_bitext(path, "ne")) == 4
    with pytest.warns(DuplicatePairsWarning):
        deduped = load_bitext(path, "ne", dedupe=True)
    assert deduped["target"][:] == ["पानी", "जल", "आगो"]


def test_aligned_folder_of_language_files(tmp_path):
    write(tmp_path / "eng_Latn.txt", "Water\nFire\n")
    write(tmp_path / "npi_Deva.txt", "पानी\nआगो\n")
    write(tmp_path / "si.txt", "ජලය\nගින්න\n")
    write(tmp_path / "notes.txt", "not a language\n")
    assert detect_layout(tmp_path) == "aligned"
    assert counts(load_bitext(tmp_path)) == {"npi_Deva": 2, "sin_Sinh": 2}


def test_layout_folders_validate_their_side_files(tmp_path):
    ntrex = tmp_path / "ntrex"
    ntrex.mkdir()
    write(ntrex / "eng_Latn.txt", "Water\nFire\n")
    write(ntrex / "npi_Deva.txt", "पानी\nआगो\n")
    write(ntrex / "document_ids.txt", "doc1\n")
    assert detect_layout(ntrex) == "ntrex128"
    with pytest.raises(BitextValidationError, match=r"document_ids\.txt: 1 lines"):
        load_bitext(ntrex)
    flores = tmp_path / "flores"
    flores.mkdir()
    write(flores / "eng_Latn.txt", "Water\nFire\n")
    write(flores / "sin_Sinh.txt", "ජලය\n\n")
    write(flores / "metadata.tsv", "id\tflores_split\tURL\n0\tdev\tu1\n1\tdev\tu1\n")
    assert detect_layout(flores) == "flores200"
    with pytest.raises(BitextValidationError, match=r"sin_Sinh\.txt:2: empty line"):
        load_bitext(flores)


def test_tatoeba_folder_skips_languages_outside_the_registry(tmp_path):
    for code, english, other in (("hin", "Water", "पानी"), ("awa", "Water", "पानी"), ("fra", "Water", "Eau")):
        write(tmp_path / f"tatoeba.{code}-eng.eng", english + "\n")
        write(tmp_path / f"tatoeba.{code}-eng.{code}", other + "\n")
    assert counts(load_bitext(tmp_path)) == {"hin_Deva": 1}


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Hub dataset id"):
        load_bitext(tmp_path / "nowhere.tsv")


# ------------------------------------------------------------------------------------------------
# Hub ids go through optical_st.hub.download_dataset


@pytest.fixture()
def fake_hub(monkeypatch, tmp_path):
    calls = []
    snapshots: dict[str, Path] = {}

    def download_dataset(repo_id, revision=None):
        calls.append((repo_id, revision))
        return snapshots[repo_id]

    module = types.ModuleType("optical_st.hub")
    module.download_dataset = download_dataset
    monkeypatch.setitem(sys.modules, "optical_st.hub", module)
    return snapshots, calls


def test_a_mistyped_path_with_one_slash_is_reported_as_both(monkeypatch):
    from optical_st.hub import HubConnectionError

    def unreachable(repo_id, revision=None):
        raise HubConnectionError(f"dataset repository {repo_id!r} is not in the local Hugging Face cache")

    monkeypatch.setattr("optical_st.hub.download_dataset", unreachable)
    for load in (load_bitext, load_benchmark):
        with pytest.raises(
            HubConnectionError, match=r"'runs/pairs\.tsv': no such file or folder, and not a Hub dataset"
        ):
            load("runs/pairs.tsv")


def test_hub_bitext_snapshot(fake_hub, tmp_path):
    snapshots, calls = fake_hub
    snapshot = tmp_path / "snapshot"
    (snapshot / "data").mkdir(parents=True)
    Dataset.from_dict(
        {"english": ["Water", "Fire"], "target": ["पानी", "आगो"], "language": ["ne", "ne"]}
    ).to_parquet(str(snapshot / "data" / "train-00000-of-00001.parquet"))
    write(
        snapshot / "data" / "test.jsonl",
        json.dumps({"english": "Sun", "target": "सूर्य", "language": "ne"}) + "\n",
    )
    snapshots["someone/nepali-bitext"] = snapshot
    bitext = load_bitext("someone/nepali-bitext", revision="v1")
    assert calls == [("someone/nepali-bitext", "v1")]
    assert sorted(bitext["english"][:]) == ["Fire", "Sun", "Water"]
    assert set(bitext["source"][:]) == {"someone/nepali-bitext"}
    assert load_bitext("someone/nepali-bitext", split="train")["english"][:] == ["Water", "Fire"]


def test_hub_benchmark_round_trip(fake_hub, tmp_path, toy_benchmark):
    snapshots, calls = fake_hub
    snapshots["someone/toy-clir"] = toy_benchmark.save(tmp_path / "saved")
    loaded = load_benchmark("someone/toy-clir")
    assert calls == [("someone/toy-clir", None)]
    assert loaded.relevant_docs() == toy_benchmark.relevant_docs()


# ------------------------------------------------------------------------------------------------
# Benchmark builders on a hand-made bitext


@pytest.fixture()
def toy_bitext() -> Dataset:
    return Dataset.from_dict(
        {
            "id": ["0", "1", "2", "3", "4"],
            "language": ["npi_Deva"] * 5,
            "english": ["A cat.", "It sleeps.", "Rain falls.", "A cat.", "Sun."],
            "target": ["बिरालो।", "सुत्छ।", "पानी पर्छ।", "एउटा बिरालो।", "सुत्छ।"],
            "doc_id": ["cats", "cats", "weather", "cats", "weather"],
            "source": ["flores200"] * 5,
        }
    )


@pytest.fixture()
def toy_benchmark(toy_bitext) -> CLIRBenchmark:
    return sentence_retrieval_benchmark(toy_bitext, "xx->eng")


def test_sentence_benchmark_merges_repeated_documents(toy_benchmark):
    assert toy_benchmark.corpus["text"][:] == ["A cat.", "It sleeps.", "Rain falls.", "Sun."]
    assert toy_benchmark.corpus["_id"][:] == ["eng_Latn:0", "eng_Latn:1", "eng_Latn:2", "eng_Latn:4"]
    # "A cat." appears twice in English: both Nepali translations retrieve the single document "0";
    # "सुत्छ।" appears twice in Nepali: one query, relevant to both of its English sentences.
    assert toy_benchmark.relevant_docs() == {
        "npi_Deva:0": {"eng_Latn:0"},
        "npi_Deva:1": {"eng_Latn:1", "eng_Latn:4"},
        "npi_Deva:2": {"eng_Latn:2"},
        "npi_Deva:3": {"eng_Latn:0"},
    }
    assert toy_benchmark.queries["_id"][:] == ["npi_Deva:0", "npi_Deva:1", "npi_Deva:2", "npi_Deva:3"]
    # A query never shares its id with its answer (BEIR-style evaluators would drop that hit).
    assert not set(toy_benchmark.queries["_id"][:]) & set(toy_benchmark.corpus["_id"][:])
    assert toy_benchmark.metadata["merged_duplicate_documents"] == 1
    assert toy_benchmark.metadata["merged_duplicate_queries"] == 1
    assert toy_benchmark.metadata["level"] == "sentence"


def test_sentence_benchmark_reverse_direction(toy_bitext):
    benchmark = sentence_retrieval_benchmark(toy_bitext.select(range(3)), "eng->xx")
    assert (benchmark.query_language, benchmark.document_language) == ("eng_Latn", "npi_Deva")
    assert benchmark.queries["text"][:] == ["A cat.", "It sleeps.", "Rain falls."]
    assert benchmark.relevant_docs() == {f"eng_Latn:{i}": {f"npi_Deva:{i}"} for i in range(3)}
    assert sentence_retrieval_benchmark(toy_bitext, "eng_Latn->npi").query_language == "eng_Latn"
    with pytest.raises(ValueError, match="direction must be"):
        sentence_retrieval_benchmark(toy_bitext, "xx->fra")


def test_document_benchmark_groups_sentences_in_order(toy_bitext):
    benchmark = document_retrieval_benchmark(toy_bitext, "xx->eng")
    corpus = dict(zip(benchmark.corpus["_id"][:], benchmark.corpus["text"][:], strict=True))
    assert corpus == {"cats": "A cat. It sleeps.", "weather": "Rain falls. Sun."}
    assert benchmark.relevant_docs() == {
        "npi_Deva:0": {"cats"},
        "npi_Deva:1": {"cats", "weather"},
        "npi_Deva:2": {"weather"},
        "npi_Deva:3": {"cats"},
    }
    reverse = document_retrieval_benchmark(toy_bitext, "eng->xx")
    reverse_corpus = dict(zip(reverse.corpus["_id"][:], reverse.corpus["text"][:], strict=True))
    assert reverse_corpus["cats"] == "बिरालो। सुत्छ। एउटा बिरालो।"
    assert reverse.relevant_docs()["eng_Latn:0"] == {"cats"} and reverse.metadata["level"] == "document"


def test_document_benchmark_needs_doc_ids(toy_bitext):
    no_docs = toy_bitext.map(lambda row: {"doc_id": ""})
    with pytest.raises(ValueError, match="5 bitext rows have no doc_id"):
        document_retrieval_benchmark(no_docs)


def test_builders_need_one_language(toy_bitext):
    mixed = toy_bitext.map(lambda row, i: {"language": "sin_Sinh" if i else "npi_Deva"}, with_indices=True)
    with pytest.raises(ValueError, match="holds 2 languages"):
        sentence_retrieval_benchmark(mixed)


def test_benchmark_metadata_carries_source_licence(toy_benchmark):
    assert toy_benchmark.metadata["source"] == "flores200"
    assert toy_benchmark.metadata["licence"] == SOURCES["flores200"]["licence"]
    assert toy_benchmark.name == "flores200-sentence-npi_Deva-eng_Latn"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_has_licence_and_bibtex(name):
    entry = SOURCES[name]
    assert entry["licence"] in ("CC BY-SA 4.0", "CC BY 2.0 FR", "CC0 1.0")
    assert entry["citation"].startswith("@") and entry["citation"].count("{") == entry["citation"].count("}")


# ------------------------------------------------------------------------------------------------
# CLIRBenchmark validation and persistence


def make_benchmark(**overrides) -> CLIRBenchmark:
    parts = {
        "queries": {"_id": ["q1", "q2"], "text": ["पानी", "आगो"], "language": ["npi_Deva"] * 2},
        "corpus": {
            "_id": ["d1", "d2"],
            "title": ["", ""],
            "text": ["Water", "Fire"],
            "language": ["eng_Latn"] * 2,
        },
        "qrels": {"query-id": ["q1", "q2"], "corpus-id": ["d1", "d2"], "score": [1, 1]},
    }
    for part, columns in overrides.items():
        parts[part].update(columns)
    return CLIRBenchmark(
        name="toy",
        **{part: Dataset.from_dict(columns) for part, columns in parts.items()},
        query_language="ne",
        document_language="en",
        metadata={"level": "sentence"},
    )


def test_benchmark_normalises_language_codes():
    benchmark = make_benchmark()
    assert (benchmark.query_language, benchmark.document_language) == ("npi_Deva", "eng_Latn")
    assert "queries=2" in repr(benchmark)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"qrels": {"query-id": ["q1", "q2"], "corpus-id": ["d1", "d9"], "score": [1, 1]}},
            "unknown corpus id 'd9'",
        ),
        (
            {"qrels": {"query-id": ["q1", "q7"], "corpus-id": ["d1", "d2"], "score": [1, 1]}},
            "unknown query id 'q7'",
        ),
        (
            {"qrels": {"query-id": ["q1", "q2"], "corpus-id": ["d1", "d2"], "score": [1, 0]}},
            "no relevant document.*'q2'",
        ),
        ({"corpus": {"_id": ["d1", "d1"]}}, "corpus id 'd1' occurs more than once"),
        ({"queries": {"text": ["पानी", " "]}}, "queries 'q2' has empty text"),
    ],
)
def test_benchmark_validation(overrides, message):
    with pytest.raises(BenchmarkValidationError, match=message):
        make_benchmark(**overrides)


def test_save_load_round_trip(tmp_path, toy_benchmark):
    directory = toy_benchmark.save(tmp_path / "bench")
    assert sorted(p.name for p in directory.iterdir()) == ["corpus", "metadata.json", "qrels", "queries"]
    loaded = load_benchmark(directory)
    assert loaded.name == toy_benchmark.name and loaded.metadata == toy_benchmark.metadata
    assert (loaded.query_language, loaded.document_language) == ("npi_Deva", "eng_Latn")
    for part in ("queries", "corpus", "qrels"):
        assert getattr(loaded, part).to_list() == getattr(toy_benchmark, part).to_list()
    assert loaded.relevant_docs() == toy_benchmark.relevant_docs()


def test_load_mteb_jsonl_layout_with_language_filter(tmp_path):
    queries = [
        {"_id": "q1", "text": "पानी", "language": "ne"},
        {"_id": "q2", "text": "Water?", "language": "eng_Latn"},
    ]
    corpus = [
        {"_id": "d1", "title": "", "text": "Water", "language": "eng_Latn"},
        {"_id": "d2", "text": "पानी", "language": "npi_Deva"},
    ]
    write(tmp_path / "queries.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in queries))
    write(tmp_path / "corpus.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus))
    (tmp_path / "qrels").mkdir()
    write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq1\td2\t1\n")
    benchmark = load_benchmark(tmp_path, query_language="ne", document_language="en")
    assert benchmark.queries["_id"][:] == ["q1"] and benchmark.corpus["_id"][:] == ["d1"]
    assert benchmark.relevant_docs() == {"q1": {"d1"}}
    assert benchmark.queries["language"][:] == ["npi_Deva"] and benchmark.corpus["title"][:] == [""]
    with pytest.raises(BenchmarkValidationError, match="no relevant document"):
        load_benchmark(tmp_path, query_language="en", document_language="en")
    with pytest.raises(BenchmarkValidationError, match=r"queries mix languages \(eng_Latn, npi_Deva\)"):
        load_benchmark(tmp_path)


def test_mteb_qrels_per_split_select_their_queries(tmp_path):
    queries = [{"_id": f"q{i}", "text": f"प्रश्न {i}"} for i in range(3)]
    write(tmp_path / "queries.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in queries))
    write(tmp_path / "corpus.jsonl", json.dumps({"_id": "d0", "title": "T", "text": "Answer"}) + "\n")
    (tmp_path / "qrels").mkdir()
    write(tmp_path / "qrels" / "train.tsv", "query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td0\t1\n")
    write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq2\td0\t1\n")
    test = load_benchmark(tmp_path, query_language="ne", document_language="en")
    assert test.queries["_id"][:] == ["q2"] and test.metadata["split"] == "test"
    assert test.corpus[0]["language"] == "eng_Latn" and test.corpus[0]["title"] == "T"
    train = load_benchmark(tmp_path, query_language="ne", document_language="en", split="train")
    assert train.queries["_id"][:] == ["q0", "q1"]
    with pytest.raises(
        BenchmarkValidationError, match=r"no qrels for split 'dev'; splits present: \['test', 'train'\]"
    ):
        load_benchmark(tmp_path, query_language="ne", document_language="en", split="dev")


def test_load_one_pair_of_a_multi_pair_folder(tmp_path, toy_bitext):
    # hub.push_benchmark stores several language pairs as {query}-{document} sub-folders.
    forward = sentence_retrieval_benchmark(toy_bitext, "xx->eng")
    backward = sentence_retrieval_benchmark(toy_bitext, "eng->xx")
    forward.save(tmp_path / "npi_Deva-eng_Latn")
    backward.save(tmp_path / "eng_Latn-npi_Deva")
    loaded = load_benchmark(tmp_path, query_language="en", document_language="ne")
    assert loaded.name == backward.name and loaded.relevant_docs() == backward.relevant_docs()
    with pytest.raises(
        BenchmarkValidationError, match=r"holds 2 benchmarks \(eng_Latn-npi_Deva, npi_Deva-eng_Latn\)"
    ):
        load_benchmark(tmp_path)
    with pytest.raises(BenchmarkValidationError, match="no sin_Sinh-eng_Latn benchmark"):
        load_benchmark(tmp_path, query_language="si", document_language="en")


def test_empty_mteb_file_and_missing_language_name_the_file_and_the_flags(tmp_path):
    write(tmp_path / "queries.jsonl", json.dumps({"_id": "q1", "text": "पानी"}, ensure_ascii=False) + "\n")
    write(tmp_path / "corpus.jsonl", "")
    (tmp_path / "qrels").mkdir()
    write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(BenchmarkValidationError, match=r"corpus\.jsonl is empty"):
        load_benchmark(tmp_path, query_language="ne", document_language="en")
    write(tmp_path / "corpus.jsonl", json.dumps({"_id": "d1", "text": "Water"}) + "\n")
    with pytest.raises(
        BenchmarkValidationError,
        match=r"queries has no language column; pass query_language= \(--query-language\)",
    ):
        load_benchmark(tmp_path)


def test_load_benchmark_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Hub dataset id"):
        load_benchmark(tmp_path / "missing")
    (tmp_path / "queries").mkdir()
    with pytest.raises(BenchmarkValidationError, match="no queries data"):
        load_benchmark(tmp_path)


def test_docstring_examples_run():
    import doctest
    import importlib
    import pkgutil

    import optical_st.data

    # the examples live in the package's modules, each tested where it is defined
    names = [info.name for info in pkgutil.iter_modules(optical_st.data.__path__)]
    modules = [optical_st.data, *(importlib.import_module(f"optical_st.data.{name}") for name in names)]
    results = [doctest.testmod(module, optionflags=doctest.ELLIPSIS) for module in modules]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 5


def test_a_damaged_parquet_file_is_one_error_naming_it(tmp_path):
    from optical_st.data import BenchmarkValidationError, BitextValidationError, load_benchmark, load_bitext

    damaged = tmp_path / "pairs.parquet"
    damaged.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(BitextValidationError, match=rf"{damaged}: not a readable Parquet file"):
        load_bitext(damaged, "npi")
    folder = tmp_path / "bench"
    for part in ("corpus", "queries", "qrels"):
        (folder / part).mkdir(parents=True)
        (folder / part / "test.parquet").write_bytes(b"not parquet")
    with pytest.raises(BenchmarkValidationError, match=r"test\.parquet: not a readable Parquet file"):
        load_benchmark(folder, query_language="npi", document_language="eng")
