"""CLIREvaluator: metrics against hand-computed rankings and sentence-transformers, CIs, paired test, errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from optical_st.evaluation import (
    CLIREvaluator,
    bootstrap_ci,
    compare_runs,
    paired_test,
    per_query_metrics,
    results_to_markdown,
)

N_PAIRS = 60


@dataclass
class HandBenchmark:
    """Same attributes as optical_st.data.CLIRBenchmark, without its validation (user objects may lack it)."""

    name: str
    queries: Dataset
    corpus: Dataset
    qrels: Dataset
    query_language: str
    document_language: str
    metadata: dict = field(default_factory=dict)


def make_benchmark(
    queries, documents, qrels, query_language, document_language, level="sentence", name=None, validated=True
):
    """A CLIRBenchmark from dicts; ``validated=False`` gives an unchecked stand-in to test the evaluator's errors."""
    from optical_st.data import CLIRBenchmark

    scores: dict[str, dict[str, int]] = {}
    for query_id, doc_id, score in qrels:
        scores.setdefault(query_id, {})[doc_id] = score
    tables = CLIRBenchmark.tables_from_texts(queries, documents, scores, query_language, document_language)
    return (CLIRBenchmark if validated else HandBenchmark)(
        name=name or f"hand-{query_language}-{document_language}-{level}",
        **tables,
        query_language=query_language,
        document_language=document_language,
        metadata={"level": level, "source": "hand"},
    )


@pytest.fixture(scope="module")
def flores_pairs(shared_data):
    english = (shared_data / "flores200" / "eng_Latn.txt").read_text(encoding="utf-8").splitlines()[:N_PAIRS]
    nepali = (shared_data / "flores200" / "npi_Deva.txt").read_text(encoding="utf-8").splitlines()[:N_PAIRS]
    hindi = (shared_data / "flores200" / "hin_Deva.txt").read_text(encoding="utf-8").splitlines()[:N_PAIRS]
    return english, nepali, hindi


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, flores_pairs):
    from tiny_models import make_tiny_model

    english, nepali, hindi = flores_pairs
    return make_tiny_model(tmp_path_factory.mktemp("tiny-eval"), english + nepali + hindi, hidden_size=32)


def sentence_benchmark(source, target, source_language, target_language):
    queries = {f"q{i}": text for i, text in enumerate(source)}
    documents = {f"d{i}": text for i, text in enumerate(target)}
    qrels = [(f"q{i}", f"d{i}", 1) for i in range(len(source))]
    return make_benchmark(queries, documents, qrels, source_language, target_language)


@pytest.fixture(scope="module")
def benchmarks(flores_pairs):
    english, nepali, hindi = flores_pairs
    return [
        sentence_benchmark(nepali, english, "npi_Deva", "eng_Latn"),
        sentence_benchmark(english, nepali, "eng_Latn", "npi_Deva"),
        sentence_benchmark(hindi, english, "hin_Deva", "eng_Latn"),
    ]


def test_per_query_metrics_match_hand_computed_rankings():
    rankings = {
        "q1": ["a", "b", "c", "d"],  # relevant at rank 1
        "q2": ["c", "a", "b", "d"],  # relevant b at rank 3
        "q3": ["d", "x", "c", "a"],  # two relevant (a, x) at ranks 2 and 4
        "q4": ["d", "c", "b", "a"],  # relevant e not retrieved
    }
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"a": 1, "x": 1}, "q4": {"e": 1}}
    values = per_query_metrics(rankings, qrels, [1, 2, 3, 4], mrr_at_k=3, ndcg_at_k=4)
    np.testing.assert_allclose(values["recall@1"], [1, 0, 0, 0])
    np.testing.assert_allclose(values["recall@2"], [1, 0, 0.5, 0])
    np.testing.assert_allclose(values["recall@3"], [1, 1, 0.5, 0])
    np.testing.assert_allclose(values["recall@4"], [1, 1, 1, 0])
    np.testing.assert_allclose(values["mrr@3"], [1, 1 / 3, 1 / 2, 0])  # q3's rank-4 hit is beyond @3
    ideal_two = 1 + 1 / math.log2(3)
    expected_ndcg = [1, (1 / math.log2(4)), (1 / math.log2(3) + 1 / math.log2(5)) / ideal_two, 0]
    np.testing.assert_allclose(values["ndcg@4"], expected_ndcg, rtol=1e-4)
    with pytest.raises(ValueError, match="no relevant document"):
        per_query_metrics({"q1": ["a"]}, {"q1": {"a": 0}}, [1])


def test_ranking_order_is_kept_even_for_document_ids_that_sort_otherwise():
    # trec_eval sorts by score then doc id; the ranking handed over must survive unchanged.
    values = per_query_metrics({"q": ["z", "a"]}, {"q": {"a": 1}}, [1], mrr_at_k=10, ndcg_at_k=10)
    assert values["recall@1"][0] == 0.0 and values["mrr@10"][0] == 0.5


def test_evaluator_agrees_with_sentence_transformers_information_retrieval(tiny_model, benchmarks):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    evaluator = CLIREvaluator(benchmarks, k_values=(1, 5, 10), n_bootstrap=0)
    metrics = evaluator(tiny_model)
    for benchmark in benchmarks:
        reference = InformationRetrievalEvaluator(
            queries=dict(zip(benchmark.queries["_id"], benchmark.queries["text"], strict=True)),
            corpus=dict(zip(benchmark.corpus["_id"], benchmark.corpus["text"], strict=True)),
            relevant_docs=benchmark.relevant_docs()
            if hasattr(benchmark, "relevant_docs")
            else {
                q: {d} for q, d in zip(benchmark.qrels["query-id"], benchmark.qrels["corpus-id"], strict=True)
            },
            accuracy_at_k=[1],
            precision_recall_at_k=[1, 5, 10],
            mrr_at_k=[10],
            ndcg_at_k=[10],
            map_at_k=[10],
            write_csv=False,
        )(tiny_model)
        key = f"clir_{benchmark.query_language}->{benchmark.document_language}"
        for ours, theirs in (("recall@1", "recall@1"), ("recall@10", "recall@10"), ("mrr@10", "mrr@10"),
                             ("ndcg@10", "ndcg@10")):  # fmt: skip
            assert metrics[f"{key}_{ours}"] == pytest.approx(reference[f"cosine_{theirs}"], abs=1e-9), (
                key,
                ours,
            )
    # The tiny random model must not be perfect, or the comparison above would prove little.
    assert 0 < metrics["clir_npi_Deva->eng_Latn_recall@10"] < 1


def test_flat_dict_results_rows_and_macro_averages(tiny_model, benchmarks, tmp_path):
    evaluator = CLIREvaluator(benchmarks, k_values=(1, 10), n_bootstrap=200)
    metrics = evaluator(tiny_model, output_path=str(tmp_path))
    assert evaluator.primary_metric == "clir_low_macro_recall@10"
    assert evaluator.primary_metric in metrics
    per_pair = [
        metrics[f"clir_{key}_recall@10"]
        for key in ("npi_Deva->eng_Latn", "eng_Latn->npi_Deva", "hin_Deva->eng_Latn")
    ]
    assert metrics["clir_macro_recall@10"] == pytest.approx(np.mean(per_pair))
    assert metrics["clir_low_macro_recall@10"] == pytest.approx(np.mean(per_pair[:2]))  # Hindi is not low
    assert set(metrics) >= {
        "clir_npi_Deva->eng_Latn_mrr@10",
        "clir_hin_Deva->eng_Latn_ndcg@10",
        "clir_low_macro_ndcg@10",
    }

    rows = evaluator.results
    assert {row["metric"] for row in rows} == {"recall", "mrr", "ndcg"}
    for row in rows:
        assert set(row) >= {"benchmark", "query_language", "document_language", "level", "metric", "k", "value",
                            "ci_low", "ci_high", "n_queries"}  # fmt: skip
        assert row["ci_low"] <= row["value"] + 1e-12 and row["value"] <= row["ci_high"] + 1e-12
    npi_row = next(
        r for r in rows if r["key"] == "npi_Deva->eng_Latn" and r["metric"] == "recall" and r["k"] == 10
    )
    assert (
        npi_row["n_queries"] == N_PAIRS and npi_row["value"] == metrics["clir_npi_Deva->eng_Latn_recall@10"]
    )
    assert len(evaluator.per_query["npi_Deva->eng_Latn"]["recall@10"]) == N_PAIRS
    assert np.mean(evaluator.per_query["npi_Deva->eng_Latn"]["recall@10"]) == pytest.approx(npi_row["value"])

    saved = json.loads((tmp_path / "clir_results.json").read_text())
    assert saved["metrics"]["clir_macro_recall@10"] == pytest.approx(metrics["clir_macro_recall@10"])
    assert saved["per_query"]["hin_Deva->eng_Latn"]["query_ids"][:2] == ["q0", "q1"]
    table = (tmp_path / "clir_results.md").read_text()
    assert "| npi_Deva->eng_Latn | npi_Deva | eng_Latn | sentence | 60 |" in table
    assert f"{100 * npi_row['value']:.1f} [" in table
    # the prompts line and a blank line, header, rows, macros
    assert len(results_to_markdown(saved["results"], ["recall@10"]).splitlines()) == 2 + 2 + 3 + 2
    with pytest.raises(ValueError, match="not in the results"):
        results_to_markdown(rows, ["recall@5"])


def test_prompts_reach_the_encoder(tiny_model, benchmarks):
    plain = CLIREvaluator(benchmarks[:1], k_values=(1, 10), n_bootstrap=0)(tiny_model)
    prompted = CLIREvaluator(benchmarks[:1], k_values=(1, 10), n_bootstrap=0, query_prompt="query: ",
                             document_prompt="passage: ")(tiny_model)  # fmt: skip
    assert plain != prompted
    symmetric = CLIREvaluator(benchmarks[:1], k_values=(1, 10), n_bootstrap=0, query_prompt="query: ",
                              document_prompt="query: ")(tiny_model)  # fmt: skip
    tiny_model.prompts = {"query": "query: ", "passage": "passage: "}
    try:
        from_model = CLIREvaluator(benchmarks[:1], k_values=(1, 10), n_bootstrap=0)(tiny_model)
    finally:
        tiny_model.prompts = {}
    assert from_model == symmetric  # sentence retrieval: the model's query prompt on both sides


def passage_benchmark(questions, sentences):
    """A query -> passage task (XQuAD-R's level): questions find the sentence answering them."""
    queries = {f"q{i}": text for i, text in enumerate(questions)}
    documents = {f"d{i}": text for i, text in enumerate(sentences)}
    qrels = [(f"q{i}", f"d{i}", 1) for i in range(len(questions))]
    return make_benchmark(queries, documents, qrels, "hin_Deva", "eng_Latn", level="passage")


def test_default_prompts_depend_on_the_task_and_are_recorded(tiny_model, benchmarks, flores_pairs, tmp_path):
    english, _, hindi = flores_pairs
    tasks = [benchmarks[0], passage_benchmark(hindi, english)]
    tiny_model.prompts = {"query": "query: ", "passage": "passage: ", "document": ""}
    try:
        evaluator = CLIREvaluator(tasks, k_values=(1, 10), n_bootstrap=0)
        metrics = evaluator(tiny_model)
        explicit = CLIREvaluator(tasks, k_values=(1, 10), n_bootstrap=0, document_prompt="passage: ")
        explicit_metrics = explicit(tiny_model)
        symmetric = CLIREvaluator(tasks, k_values=(1, 10), n_bootstrap=0, document_prompt="query: ")
        symmetric_metrics = symmetric(tiny_model)
    finally:
        tiny_model.prompts = {}
    recorded = {
        row["key"]: tuple(
            row[name] for name in ("query_prompt", "document_prompt", "query_encoder", "document_encoder")
        )
        for row in evaluator.results
        if row["query_language"] != "*"
    }
    assert recorded == {
        "npi_Deva->eng_Latn": ("query: ", "query: ", "model", "model"),  # translation retrieval: symmetric
        "hin_Deva->eng_Latn_passage": ("query: ", "passage: ", "model", "model"),  # question -> passage
    }
    # The recorded prompts are the ones used: the same numbers as passing them explicitly.
    assert (
        metrics["clir_npi_Deva->eng_Latn_recall@1"] == symmetric_metrics["clir_npi_Deva->eng_Latn_recall@1"]
    )
    assert (
        metrics["clir_hin_Deva->eng_Latn_passage_mrr@10"]
        == explicit_metrics["clir_hin_Deva->eng_Latn_passage_mrr@10"]
    )
    assert {r["document_prompt"] for r in explicit.results if r["query_language"] != "*"} == {"passage: "}

    path = evaluator.save(tmp_path)
    saved = json.loads(path.read_text())
    assert [(b["key"], b["query_prompt"], b["document_prompt"]) for b in saved["benchmarks"]] == [
        ("npi_Deva->eng_Latn", "query: ", "query: "),
        ("hin_Deva->eng_Latn_passage", "query: ", "passage: "),
    ]
    assert all("document_prompt" in row for row in saved["results"] if row["query_language"] != "*")
    table = path.with_suffix(".md").read_text()
    assert (
        'prompts: queries "query: ", documents "query: " (the evaluated model encodes both sides): npi_Deva->eng_Latn'
        in table
    )
    assert 'prompts: queries "query: ", documents "passage: "' in table


def test_the_encoder_of_each_side_is_recorded(tiny_model, benchmarks, flores_pairs, tmp_path_factory):
    from tiny_models import make_tiny_model

    english, nepali, _ = flores_pairs
    teacher = make_tiny_model(tmp_path_factory.mktemp("tiny-teacher-label"), english + nepali, seed=2)
    teacher.model_card_data.model_id = "someone/teacher"
    evaluator = CLIREvaluator(
        benchmarks[:2], k_values=(1,), n_bootstrap=0, language_encoders={"eng": teacher}
    )
    evaluator(tiny_model)
    sides = {
        r["key"]: (r["query_encoder"], r["document_encoder"])
        for r in evaluator.results
        if r["query_language"] != "*"
    }
    assert sides == {
        "npi_Deva->eng_Latn": ("model", "someone/teacher"),
        "eng_Latn->npi_Deva": ("someone/teacher", "model"),
    }
    assert "queries encoded by the evaluated model, documents by someone/teacher" in evaluator.to_markdown()


def test_language_encoders_encode_english_with_the_fixed_teacher(
    tiny_model, benchmarks, flores_pairs, tmp_path_factory
):
    from tiny_models import make_tiny_model

    english, nepali, hindi = flores_pairs
    teacher = make_tiny_model(tmp_path_factory.mktemp("tiny-teacher"), english + nepali + hindi, seed=1)
    evaluator = CLIREvaluator(
        benchmarks[:2], k_values=(1, 10), n_bootstrap=0, language_encoders={"en": teacher}
    )
    metrics = evaluator(tiny_model)

    # By hand: the student encodes Nepali, the teacher English, in both directions.
    nepali_vectors = tiny_model.encode(nepali, convert_to_numpy=True)
    english_vectors = teacher.encode(english, convert_to_numpy=True)
    npi_to_eng = (np.argmax(nepali_vectors @ english_vectors.T, axis=1) == np.arange(len(nepali))).mean()
    eng_to_npi = (np.argmax(english_vectors @ nepali_vectors.T, axis=1) == np.arange(len(english))).mean()
    assert metrics["clir_npi_Deva->eng_Latn_recall@1"] == pytest.approx(npi_to_eng, abs=1e-9)
    assert metrics["clir_eng_Latn->npi_Deva_recall@1"] == pytest.approx(eng_to_npi, abs=1e-9)
    symmetric = CLIREvaluator(benchmarks[:2], k_values=(1, 10), n_bootstrap=0)(tiny_model)
    # all metrics, not one recall@1: near chance, two random tiny encoders can tie on a single number
    assert symmetric != metrics
    assert list(evaluator.get_config_dict()["language_encoders"]) == ["eng_Latn"]

    narrow = make_tiny_model(tmp_path_factory.mktemp("tiny-narrow"), english + nepali, hidden_size=16)
    with pytest.raises(ValueError, match="dimension 32 but document embeddings 16"):
        CLIREvaluator(benchmarks[:1], k_values=(1,), n_bootstrap=0, language_encoders={"eng": narrow})(
            tiny_model
        )


def test_document_level_keys_and_level_macros(tiny_model, flores_pairs):
    english, nepali, _ = flores_pairs
    articles = {f"doc{j}": " ".join(english[j * 6 : (j + 1) * 6]) for j in range(N_PAIRS // 6)}
    queries = {f"q{i}": text for i, text in enumerate(nepali)}
    qrels = [(f"q{i}", f"doc{i // 6}", 1) for i in range(N_PAIRS)]
    document_level = make_benchmark(queries, articles, qrels, "npi_Deva", "eng_Latn", level="document")
    sentence_level = sentence_benchmark(nepali, english, "npi_Deva", "eng_Latn")
    evaluator = CLIREvaluator([sentence_level, document_level], k_values=(1, 10), n_bootstrap=0)
    metrics = evaluator(tiny_model)
    assert "clir_npi_Deva->eng_Latn_document_recall@10" in metrics
    assert metrics["clir_document_macro_recall@10"] == metrics["clir_npi_Deva->eng_Latn_document_recall@10"]
    assert metrics["clir_sentence_low_macro_recall@1"] == metrics["clir_npi_Deva->eng_Latn_recall@1"]
    # 10 candidate articles: recall@10 is 1 by construction, a sanity check of the qrels plumbing.
    assert metrics["clir_npi_Deva->eng_Latn_document_recall@10"] == 1.0


def test_clear_errors_for_bad_benchmarks():
    good = make_benchmark(
        {"q1": "a"}, {"d1": "x", "d2": "y"}, [("q1", "d1", 1)], "npi_Deva", "eng_Latn", validated=False
    )
    with pytest.raises(ValueError, match="at least one benchmark"):
        CLIREvaluator([])
    with pytest.raises(ValueError, match=r"k=100 is larger than the corpus .* \(2 documents\)"):
        CLIREvaluator([good], k_values=(1, 5, 10, 100))
    parts = (
        {"q1": "a", "q2": "b"},
        {"d1": "x", "d2": "y"},
        [("q1", "d1", 1), ("q2", "d2", 0)],
        "npi_Deva",
        "eng_Latn",
    )
    with pytest.raises(ValueError, match="no relevant document"):  # data.CLIRBenchmark refuses it already
        make_benchmark(*parts)
    with pytest.raises(ValueError, match=r"1 queries have no relevant document.*'q2'"):  # data's check
        CLIREvaluator([make_benchmark(*parts, validated=False)], k_values=(1,), mrr_at_k=1, ndcg_at_k=1)
    unknown_doc = make_benchmark(
        {"q1": "a"}, {"d1": "x"}, [("q1", "d9", 1)], "npi_Deva", "eng_Latn", validated=False
    )
    with pytest.raises(ValueError, match=r"unknown corpus id 'd9'"):
        CLIREvaluator([unknown_doc], k_values=(1,), mrr_at_k=1, ndcg_at_k=1)
    with pytest.raises(ValueError, match="positive"):
        CLIREvaluator([good], k_values=(0,))
    for confidence in (1.5, 0.0, float("nan")):  # refused when made, not after every model was encoded
        with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
            CLIREvaluator([good], k_values=(1,), confidence=confidence)


def test_a_fractional_qrel_score_is_refused_naming_the_row_and_file(tmp_path):
    import pandas as pd

    from optical_st.data import load_benchmark

    parts = ({"q1": "a", "q2": "b"}, {"d1": "x", "d2": "y"}, [("q1", "d1", 1), ("q2", "d2", 0.5)], "npi_Deva",
             "eng_Latn")  # fmt: skip
    with pytest.raises(ValueError, match=r"qrels row 2 has score 0.5; scores are whole numbers"):
        make_benchmark(*parts)
    folder = make_benchmark(*parts[:2], [("q1", "d1", 1), ("q2", "d2", 1)], *parts[3:]).save(tmp_path / "b")
    (qrels_file,) = (folder / "qrels").glob("*.parquet")
    frame = pd.read_parquet(qrels_file)
    pd.DataFrame({**frame, "score": [1.0, 0.5]}).to_parquet(qrels_file)
    with pytest.raises(ValueError, match=rf"{qrels_file}: qrels row 2 has score 0.5"):
        load_benchmark(folder)


def test_cutoffs_follow_k_and_the_corpus_size():
    five = make_benchmark({"q1": "a", "q2": "b"}, {f"d{i}": text for i, text in enumerate("vwxyz")},
                          [("q1", "d0", 1), ("q2", "d1", 1)], "npi_Deva", "eng_Latn")  # fmt: skip
    # default cut-offs: those of (1, 5, 10, 100) the 5 documents allow; MRR/nDCG no deeper than them
    assert CLIREvaluator([five]).metrics == ["recall@1", "recall@5", "mrr@5", "ndcg@5"]
    assert CLIREvaluator([five], k_values=(1, 2)).metrics == ["recall@1", "recall@2", "mrr@2", "ndcg@2"]
    assert CLIREvaluator([five], k_values=(1, 2), mrr_at_k=5).metrics[2] == "mrr@5"
    with pytest.raises(ValueError, match=r"k=10 is larger than the corpus"):  # asked for explicitly
        CLIREvaluator([five], k_values=(1, 10))


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_queries():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 2, 50).astype(float)
    large = rng.integers(0, 2, 5000).astype(float)
    low_s, high_s, replicates = bootstrap_ci(small, n_resamples=500)
    low_l, high_l, _ = bootstrap_ci(large, n_resamples=500)
    assert low_s < small.mean() < high_s and low_l < large.mean() < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5
    assert replicates.shape == (500,)
    low, high, _ = bootstrap_ci(np.ones(30), n_resamples=100)
    assert low == high == 1.0


def test_paired_test_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, 400).astype(float)
    better = np.where(rng.random(400) < 0.3, 1.0, base)  # B fixes about 30% of A's misses, never worse
    result = paired_test(better, base, metric="recall@1", n_resamples=2000)
    assert result.difference == pytest.approx(better.mean() - base.mean())
    assert result.p_value < 0.001 and result.ci_low > 0
    noise = rng.permutation(base)
    null = paired_test(base, noise, n_resamples=2000)
    assert null.p_value > 0.05 and null.ci_low < 0 < null.ci_high
    assert paired_test(base, base).p_value == 1.0
    with pytest.raises(ValueError, match="same queries"):
        paired_test(base, base[:10])
    macro = paired_test(
        {"a": better[:100], "b": better[100:]}, {"a": base[:100], "b": base[100:]}, n_resamples=500
    )
    assert macro.difference == pytest.approx(
        0.5 * (better[:100].mean() - base[:100].mean()) + 0.5 * (better[100:].mean() - base[100:].mean())
    )


def test_compare_runs_pairs_two_models_on_the_same_queries(
    tiny_model, benchmarks, tmp_path_factory, flores_pairs
):
    from tiny_models import make_tiny_model

    english, nepali, hindi = flores_pairs
    other = make_tiny_model(tmp_path_factory.mktemp("tiny-other"), english + nepali + hindi, seed=1)
    evaluator = CLIREvaluator(benchmarks, k_values=(1, 10), n_bootstrap=0)
    evaluator(tiny_model)
    run_a = evaluator.per_query
    evaluator(other)
    run_b = evaluator.per_query
    results = compare_runs(run_a, run_b, "recall@10", n_resamples=500)
    assert [r.benchmark for r in results] == [*run_a, "macro"]
    first = results[0]
    assert first.difference == pytest.approx(
        np.mean(run_a[first.benchmark]["recall@10"]) - np.mean(run_b[first.benchmark]["recall@10"])
    )
    assert 0 <= first.p_value <= 1
    tampered = {key: dict(value) for key, value in run_b.items()}
    tampered[first.benchmark]["query_ids"] = list(reversed(tampered[first.benchmark]["query_ids"]))
    with pytest.raises(ValueError, match="different queries"):
        compare_runs(run_a, tampered)


# --------------------------------------------------------------------------------------------------
# Presets, the CLI, the trainer, the real encoder
# --------------------------------------------------------------------------------------------------


def test_flores_presets_build_every_direction_and_level(shared_data):
    from optical_st.evaluation import flores_benchmarks, load_benchmarks

    benchmarks = flores_benchmarks(shared_data / "flores200", "npi", split="dev")
    assert [(b.query_language, b.document_language, b.metadata["level"]) for b in benchmarks] == [
        ("npi_Deva", "eng_Latn", "sentence"),
        ("eng_Latn", "npi_Deva", "sentence"),
        ("npi_Deva", "eng_Latn", "document"),
        ("eng_Latn", "npi_Deva", "document"),
    ]
    assert len(benchmarks[0].queries) == 509 and len(benchmarks[2].corpus) < 509
    only = load_benchmarks(
        shared_data / "flores200", "sin", directions="eng->xx", levels="sentence", split="dev"
    )
    assert [(b.query_language, b.document_language) for b in only] == [("eng_Latn", "sin_Sinh")]
    with pytest.raises(ValueError, match="Empty language list"):
        flores_benchmarks(shared_data / "flores200", "")
    with pytest.raises(ValueError, match="Unknown direction"):
        flores_benchmarks(shared_data / "flores200", "npi", directions="xx->fra")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_benchmarks(shared_data / "no-such-folder", "npi")
    with pytest.raises(ValueError, match="Hindi only"):
        load_benchmarks(shared_data / "xquad_r", "low")
    with pytest.raises(ValueError, match="not flores200"):
        flores_benchmarks(shared_data / "ntrex128", "npi")


@pytest.fixture(scope="module")
def saved_benchmark(tmp_path_factory, benchmarks):
    return benchmarks[0].save(tmp_path_factory.mktemp("bench") / "npi-eng")


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-saved")
    tiny_model.save(str(directory))
    return directory


def test_cli_evaluates_and_compares_models(tiny_model_dir, saved_benchmark, tmp_path, capsys):
    from optical_st.cli import main

    output = tmp_path / "out"
    argv = ["evaluate", "--model", str(tiny_model_dir), "--benchmark", str(saved_benchmark), "--k", "1,10",
            "--bootstrap", "100", "--output", str(output)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| npi_Deva->eng_Latn | npi_Deva | eng_Latn | sentence | 60 |" in printed
    assert 'prompts: queries "", documents "" (the evaluated model encodes both sides)' in printed
    saved = json.loads((output / "clir_results.json").read_text())
    assert saved["benchmarks"][0]["document_prompt"] == ""
    assert saved["command"].startswith("optical-st evaluate --model ")
    assert "clir_npi_Deva->eng_Latn_recall@10" in saved["metrics"]

    # Two models: the same one under two spellings gives a paired test with difference 0 and p = 1.
    same = str(tiny_model_dir) + "/"
    assert main([*argv[:3], "--model", same, *argv[3:]]) == 0
    printed = capsys.readouterr().out
    assert "paired randomization test" in printed and "| macro |" in printed
    comparison = json.loads((output / "comparison.json").read_text())
    first = comparison["comparisons"][same][0]
    assert first["difference"] == 0 and first["p_value"] == 1.0


def test_cli_english_model_encodes_the_english_side(
    tiny_model_dir, saved_benchmark, flores_pairs, tmp_path, capsys
):
    from tiny_models import make_tiny_model

    from optical_st.cli import main

    english, nepali, hindi = flores_pairs
    make_tiny_model(tmp_path / "teacher", english + nepali + hindi, seed=1)
    argv = ["evaluate", "--model", str(tiny_model_dir), "--benchmark", str(saved_benchmark), "--k", "1,10",
            "--bootstrap", "0"]  # fmt: skip
    assert main([*argv, "--output", str(tmp_path / "symmetric")]) == 0
    assert (
        main([*argv, "--english-model", str(tmp_path / "teacher" / "model"), "--output", str(tmp_path / "a")])
        == 0
    )
    symmetric = json.loads((tmp_path / "symmetric" / "clir_results.json").read_text())
    asymmetric = json.loads((tmp_path / "a" / "clir_results.json").read_text())
    assert list(asymmetric["config"]["language_encoders"]) == ["eng_Latn"]
    assert "--english-model" in asymmetric["command"]
    assert asymmetric["metrics"] != symmetric["metrics"]
    capsys.readouterr()
    assert main([*argv, "--english-model", str(tmp_path / "missing")]) == 1
    assert "model path does not exist" in capsys.readouterr().err


def test_cli_reports_bad_input_in_one_line(saved_benchmark, tmp_path, capsys):
    from optical_st.cli import main

    assert (
        main(["evaluate", "--model", str(tmp_path / "missing-model"), "--benchmark", str(saved_benchmark)])
        == 1
    )
    assert "model path does not exist" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tmp_path), "--benchmark", str(tmp_path / "nothing")]) == 1
    assert "Benchmark folder not found" in capsys.readouterr().err
    assert (
        main(["evaluate", "--model", str(tmp_path), "--benchmark", str(saved_benchmark), "--languages", ","])
        == 1
    )
    assert "Empty language list" in capsys.readouterr().err
    assert (
        main(
            ["evaluate", "--model", str(tmp_path), "--benchmark", str(saved_benchmark), "--languages", "sin"]
        )
        == 1
    )
    assert "not one of the languages ['sin_Sinh']" in capsys.readouterr().err
    assert (
        main(["evaluate", "--model", str(tmp_path), "--benchmark", str(saved_benchmark), "--k", "1,500"]) == 1
    )
    assert "k=500 is larger than the corpus" in capsys.readouterr().err


def test_evaluator_runs_inside_the_trainer(tiny_model, benchmarks, tmp_path):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    english = benchmarks[0].corpus["text"][:16]
    nepali = benchmarks[0].queries["text"][:16]
    train = Dataset.from_dict({"anchor": nepali, "positive": english})
    evaluator = CLIREvaluator(benchmarks[:1], k_values=(1, 10), n_bootstrap=0)
    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8, eval_strategy="steps", eval_steps=2,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=tiny_model, args=arguments, train_dataset=train,
        loss=MultipleNegativesRankingLoss(tiny_model), evaluator=evaluator,
    )  # fmt: skip
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "eval_clir_low_macro_recall@10" in entry]
    assert logged and 0 <= logged[-1]["eval_clir_low_macro_recall@10"] <= 1


@pytest.mark.slow
def test_real_multilingual_e5_small_retrieves_nepali_translations(real_encoder_path, shared_data):
    from sentence_transformers import SentenceTransformer

    from optical_st.data import load_bitext, sentence_retrieval_benchmark

    bitext = load_bitext(shared_data / "flores200", "npi", split="dev").select(range(80))
    benchmarks = [sentence_retrieval_benchmark(bitext, d) for d in ("xx->eng", "eng->xx")]
    model = SentenceTransformer(str(real_encoder_path), device="cpu")
    evaluator = CLIREvaluator(benchmarks, k_values=(1, 10), n_bootstrap=200, document_prompt="query: ")
    metrics = evaluator(model)
    # Zero-shot multilingual-e5-small finds nearly every Nepali<->English FLORES translation among 80.
    assert metrics["clir_npi_Deva->eng_Latn_recall@1"] > 0.9
    assert metrics["clir_eng_Latn->npi_Deva_recall@10"] > 0.95
    low = next(
        r for r in evaluator.results if r["key"] == "low_macro" and r["metric"] == "recall" and r["k"] == 1
    )
    assert 0.8 < low["ci_low"] <= low["value"] <= low["ci_high"] <= 1


# --------------------------------------------------------------------------------------------------
# `optical-st evaluate` on a 5-document benchmark and a tiny model (no shared data needed): what a user
# gets for each bad input


SMALL_ENGLISH = ["the cat sat on the mat", "a dog runs in the park", "retrieval across languages", "the park is green",
                 "a cat and a dog"]  # fmt: skip
SMALL_NEPALI = ["नेपाल एक सुन्दर देश हो", "यह एक परीक्षण वाक्य है", "नेपाल देश", "सुन्दर देश", "एक देश"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(model folder, saved 5-document benchmark folder, its bitext as a TSV file)."""
    from tiny_models import make_tiny_model

    root = tmp_path_factory.mktemp("small")
    make_tiny_model(root / "tiny", [*SMALL_ENGLISH, *SMALL_NEPALI])
    benchmark = sentence_benchmark(SMALL_NEPALI, SMALL_ENGLISH, "npi_Deva", "eng_Latn").save(root / "bench")
    tsv = root / "pairs.tsv"
    tsv.write_text("english\ttarget\tlanguage\n" + "".join(
        f"{e}\t{n}\tnpi_Deva\n" for e, n in zip(SMALL_ENGLISH, SMALL_NEPALI, strict=True)), encoding="utf-8")  # fmt: skip
    return root / "tiny" / "model", benchmark, tsv


def evaluate_args(small, *extra):
    model, benchmark, _ = small
    return ["evaluate", "--model", str(model), "--benchmark", str(benchmark), "--bootstrap", "0", *extra]


def test_cli_scores_a_benchmark_smaller_than_ten_and_k_alone_sets_the_rest(small, capsys):
    from optical_st.cli import main

    assert main(evaluate_args(small)) == 0  # default cut-offs: the ones 5 documents allow
    assert "| benchmark | query | documents | level | queries | recall@1 | recall@5 | mrr@5 | ndcg@5 |" in (
        capsys.readouterr().out
    )
    assert main(evaluate_args(small, "--k", "1,2")) == 0  # columns and the compared metric follow --k
    assert "| recall@1 | recall@2 | mrr@2 | ndcg@2 |" in capsys.readouterr().out
    model = str(small[0])
    assert main(evaluate_args(small, "--k", "1,2", "--model", model + "/")) == 0
    assert "recall@2, paired randomization test" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "1,abc"], "--k takes comma-separated whole numbers like 1,5,10; 'abc' is not one"),
        (["--k", "0,5"], "--k: cut-offs must be 1 or more, got 0"),
        (["--bootstrap", "-5"], "--bootstrap must be 0 or more (0: no intervals), got -5"),
        (["--batch-size", "0"], "--batch-size must be positive"),
        (["--device", "cuda"], "--device 'cuda' cannot be used on this machine"),
    ],
)
def test_cli_evaluate_rejects_bad_values_up_front(tmp_path, capsys, extra, message):
    from optical_st.cli import main

    # neither the model nor the benchmark exists: a check that ran later would report those instead
    argv = ["evaluate", "--model", str(tmp_path / "m"), "--benchmark", str(tmp_path / "b"), *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_checks_the_output_before_any_work(small, tmp_path, capsys, monkeypatch):
    from optical_st.cli import main

    calls = []
    monkeypatch.setattr(CLIREvaluator, "__call__", lambda self, model, *a, **k: calls.append(1))
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "folder.json").mkdir()
    for output, message in [
        (tmp_path / "a-file", "is an existing file; give a folder or a name ending in .json"),
        (tmp_path / "folder.json", "is a folder, not a .json file"),
        (tmp_path / "a-file" / "results.json", "is a file, so no folder can be made there"),
    ]:
        assert main(evaluate_args(small, "--output", str(output))) == 1
        assert message in capsys.readouterr().err
    assert calls == []  # nothing was evaluated


def test_cli_never_loses_computed_results(small, tmp_path, capsys, monkeypatch):
    from optical_st.cli import main

    requested = tmp_path / "out"
    save = CLIREvaluator.save

    def disk_fails_at_the_requested_place(self, output_path, **kwargs):
        if Path(output_path) == requested:
            raise PermissionError(13, "Permission denied", str(requested))
        return save(self, output_path, **kwargs)

    monkeypatch.setattr(CLIREvaluator, "save", disk_fails_at_the_requested_place)
    assert main(evaluate_args(small, "--output", str(requested))) == 1
    err = capsys.readouterr().err
    assert f"could not write {requested}" in err and "the results are in" in err
    spare = Path(err.split("the results are in ")[1].split(" instead")[0])
    assert json.loads(spare.read_text())["results"]


def test_a_full_disk_leaves_the_earlier_results_whole(small, tmp_path, capsys, monkeypatch):
    from optical_st.cli import main

    output = tmp_path / "out"
    assert main(evaluate_args(small, "--output", str(output))) == 0
    earlier = {path.name: path.read_bytes() for path in output.iterdir()}
    assert "clir_results.json" in earlier
    write_text = Path.write_text

    def disk_full_after_a_few_bytes(path, text, *args, **kwargs):
        write_text(path, text[:10], *args, **kwargs)
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(Path, "write_text", disk_full_after_a_few_bytes)
    assert main(evaluate_args(small, "--output", str(output))) == 1
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in output.iterdir()} == earlier  # no torn file, no .partial


def test_cli_a_run_folder_or_a_torn_model_is_one_line_naming_what_to_use(small, tmp_path, capsys):
    import shutil

    from optical_st.cli import main

    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "training_run.json").write_text("{}")
    model, benchmark, _ = small
    argv = ["evaluate", "--benchmark", str(benchmark), "--bootstrap", "0", "--model"]
    assert main([*argv, str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err == f"optical-st evaluate: error: {run} is a training run folder, not a model: use {run / 'final'}"
    )
    torn = shutil.copytree(model, tmp_path / "torn")
    weights = torn / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:30000])  # a save cut short by a full disk
    assert main([*argv, str(torn)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{weights} is truncated (30000 of " in err and "the model folder is damaged" in err
    assert len(err.splitlines()) == 1


def test_cli_results_json_is_strict_without_bootstrap(small, tmp_path, capsys):
    from optical_st.cli import main

    assert main(evaluate_args(small, "--output", str(tmp_path / "r.json"))) == 0

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    saved = json.loads((tmp_path / "r.json").read_text(), parse_constant=no_constants)
    assert {row["ci_low"] for row in saved["results"]} == {None}


def test_cli_ctrl_c_is_one_line(small, capsys, monkeypatch):
    from optical_st.cli import main

    def interrupted(self, model, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(CLIREvaluator, "__call__", interrupted)
    assert main(evaluate_args(small)) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "optical-st evaluate: interrupted"


def test_cli_benchmark_file_and_languages_of_an_mteb_folder(small, tmp_path, capsys):
    from optical_st.cli import main

    model, _, tsv = small
    argv = ["evaluate", "--model", str(model), "--bootstrap", "0", "--k", "1"]
    assert main([*argv, "--benchmark", str(tsv)]) == 0  # a bitext file: sentence retrieval both ways
    assert "npi_Deva->eng_Latn" in capsys.readouterr().out
    (tmp_path / "notes.txt").write_text("hello")
    assert main([*argv, "--benchmark", str(tmp_path / "notes.txt")]) == 1
    assert "unsupported file type" in capsys.readouterr().err
    # an MTEB folder without a language column: the languages come from the command line
    mteb = tmp_path / "mteb"
    mteb.mkdir()
    (mteb / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(SMALL_NEPALI)))  # fmt: skip
    (mteb / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(SMALL_ENGLISH)))  # fmt: skip
    (mteb / "qrels").mkdir()
    (mteb / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(5))
    )
    assert main([*argv, "--benchmark", str(mteb)]) == 1
    assert "pass query_language= (--query-language)" in capsys.readouterr().err
    assert main([*argv, "--benchmark", str(mteb), "--query-language", "ne", "--document-language", "en"]) == 0
    assert "| npi_Deva->eng_Latn | npi_Deva | eng_Latn |" in capsys.readouterr().out


def test_cli_a_file_that_cannot_be_used_is_one_line(small, tmp_path, capsys):
    from optical_st.cli import main

    (tmp_path / "cache").write_text("a file where the embedding cache folder should go")
    assert main(evaluate_args(small, "--cache-dir", str(tmp_path / "cache"))) == 1  # an OSError
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("optical-st evaluate: error: ") and str(tmp_path / "cache") in err[-1]


def test_cli_help_states_the_task_dependent_prompt_defaults(capsys):
    from optical_st.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "query prompt on both sides for sentence and document level" in text
    assert "query->passage tasks such as XQuAD-R" in text
    assert "The prompts used head the printed table and are recorded in every results row" in text
