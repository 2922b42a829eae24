"""CorpusIndex: exact and FAISS search agree, prompts, in-memory and on-disk caching, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import DEFAULT_TEXTS, make_tiny_model

from optical_st.search import (
    CorpusIndex,
    encode_texts,
    exact_top_k,
    model_fingerprint,
    resolve_prompt,
)

TEXTS = [*DEFAULT_TEXTS, "काठमाडौं नेपालको राजधानी हो", "colombo is a city by the sea"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny-search"), TEXTS, hidden_size=32)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("n_documents", [50, 3000])
def test_exact_and_faiss_return_the_same_ranking(n_documents):
    corpus, queries = unit_vectors(n_documents, 48, 0), unit_vectors(200, 48, 1)
    exact = CorpusIndex.from_embeddings(corpus, backend="exact")
    faiss = CorpusIndex.from_embeddings(corpus, backend="faiss")
    assert (exact.backend, faiss.backend) == ("exact", "faiss")
    for k in (1, 10, 50):
        exact_scores, exact_indices = exact.search_embeddings(queries, k)
        faiss_scores, faiss_indices = faiss.search_embeddings(queries, k)
        np.testing.assert_array_equal(exact_indices, faiss_indices)
        np.testing.assert_allclose(exact_scores, faiss_scores, atol=1e-5)


def test_exact_top_k_matches_a_full_sort_and_breaks_ties_by_index():
    corpus, queries = unit_vectors(300, 16, 2), unit_vectors(40, 16, 3)
    corpus[7] = corpus[3]  # an exact tie: document 3 must come before document 7
    queries[0] = corpus[3]
    scores, indices = exact_top_k(queries, corpus, 25, chunk_size=7)  # several chunks
    full = queries @ corpus.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :25]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-6)
    assert list(indices[0, :2]) == [3, 7]
    # k equal to the corpus size is a full ranking
    _, everything = exact_top_k(queries[:2], corpus, 300)
    assert sorted(everything[0]) == list(range(300))


@pytest.mark.parametrize("backend", ["exact", "faiss"])
def test_k_larger_than_corpus_and_bad_input_are_clear_errors(backend):
    index = CorpusIndex.from_embeddings(unit_vectors(5, 8, 0), ids=list("abcde"), backend=backend)
    with pytest.raises(ValueError, match=r"k=6 is larger than the corpus \(5 documents\)"):
        index.search_embeddings(unit_vectors(1, 8, 1), 6)
    with pytest.raises(ValueError, match="positive integer"):
        index.search_embeddings(unit_vectors(1, 8, 1), 0)
    with pytest.raises(ValueError, match="dimension 4 != corpus dimension 8"):
        index.search_embeddings(unit_vectors(1, 4, 1), 1)
    with pytest.raises(ValueError, match="empty corpus"):
        CorpusIndex.from_embeddings(np.zeros((0, 8), dtype=np.float32), ids=[])
    with pytest.raises(ValueError, match="unique"):
        CorpusIndex.from_embeddings(unit_vectors(3, 8, 0), ids=["a", "b", "a"])
    with pytest.raises(ValueError, match="backend"):
        CorpusIndex.from_embeddings(unit_vectors(3, 8, 0), backend="annoy")


def test_search_by_text_finds_each_document_with_itself(tiny_model):
    # Empty prompts on both sides: a document queried with its own text has cosine 1 with itself.
    index = CorpusIndex(tiny_model, {f"d{i}": text for i, text in enumerate(TEXTS)}, prompt="")
    hits = index.search(TEXTS, k=3, prompt="")
    assert [row[0][0] for row in hits] == [f"d{i}" for i in range(len(TEXTS))]
    assert all(len(row) == 3 and isinstance(row[0][1], float) for row in hits)
    assert hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[0][0][1] >= hits[0][1][1] >= hits[0][2][1]
    single = index.search(TEXTS[2], k=1, prompt="")
    assert single == [[("d2", pytest.approx(1.0, abs=1e-5))]]
    with pytest.raises(ValueError, match="larger than the corpus"):
        index.search("x", k=len(TEXTS) + 1)


def test_prompts_follow_the_model_and_are_applied(tiny_model):
    tiny_model.prompts = {"query": "query: ", "passage": "passage: "}
    try:
        assert resolve_prompt(tiny_model, "query") == "query: "
        assert resolve_prompt(tiny_model, "document") == "passage: "
        # sentence-transformers 6 saves an empty "document" prompt beside e5's "passage: ".
        tiny_model.prompts = {"query": "query: ", "document": "", "passage": "passage: "}
        assert resolve_prompt(tiny_model, "document") == "passage: "
        assert resolve_prompt(tiny_model, "document", prompt="") == ""
        assert resolve_prompt(tiny_model, "document", prompt_name="query") == "query: "
        with pytest.raises(ValueError, match="not one of the model's prompts"):
            resolve_prompt(tiny_model, "query", prompt_name="question")
        embedded = encode_texts(tiny_model, TEXTS[:2], role="query")
        by_hand = tiny_model.encode(["query: " + text for text in TEXTS[:2]], normalize_embeddings=True)
        np.testing.assert_allclose(embedded, by_hand, atol=1e-5)
        documents = encode_texts(tiny_model, TEXTS[:2], role="document")
        assert not np.allclose(embedded, documents)
    finally:
        tiny_model.prompts = {}
    assert resolve_prompt(tiny_model, "query") == ""
    # A model without prompts (all-MiniLM-L6-v2 encoding OPTICAL's English side) asked for a prompt by
    # name gets none, so one prompt name can be asked of every encoder of an evaluation.
    assert resolve_prompt(tiny_model, "document", prompt_name="passage") == ""


def test_memo_encodes_each_distinct_text_once(tiny_model, monkeypatch):
    calls = []
    original = tiny_model.encode_document

    def counting(texts, **kwargs):
        calls.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(tiny_model, "encode_document", counting)
    memo = {}
    first = encode_texts(tiny_model, [*TEXTS, TEXTS[0]], memo=memo)
    second = encode_texts(tiny_model, TEXTS[:3], memo=memo)
    assert calls == [TEXTS]  # duplicates and the second call cost nothing
    np.testing.assert_array_equal(first[-1], first[0])
    np.testing.assert_array_equal(second, first[:3])


def test_disk_cache_is_read_back_and_keyed_by_weights(tiny_model, tmp_path, monkeypatch):
    fingerprint = model_fingerprint(tiny_model)
    built = CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("encoded although cached")

    monkeypatch.setattr(tiny_model, "encode_document", fail)
    cached = CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path)
    np.testing.assert_array_equal(cached.embeddings, built.embeddings)
    monkeypatch.undo()

    # Another prompt or other texts are other cache entries.
    CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path, prompt="passage: ")
    CorpusIndex(tiny_model, TEXTS[:4], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 3

    # A changed weight (as after a training step) changes the fingerprint, so the cache is not reused.
    parameter = next(tiny_model.parameters())
    with torch.no_grad():
        parameter[0, 0] += 0.5
    try:
        assert model_fingerprint(tiny_model) != fingerprint
        changed = CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path)
        assert len(list(tmp_path.glob("*.npy"))) == 4
        assert changed.embeddings.shape == built.embeddings.shape
    finally:
        with torch.no_grad():
            parameter[0, 0] -= 0.5
    assert model_fingerprint(tiny_model) == fingerprint


@pytest.mark.parametrize("damage", [b"garbage, not numpy", b""])
def test_a_damaged_cache_file_is_discarded_with_its_path_and_recomputed(tiny_model, tmp_path, caplog, damage):
    built = CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.npy")
    cache_file.write_bytes(damage)
    again = CorpusIndex(tiny_model, TEXTS, cache_dir=tmp_path)  # used to raise numpy's error, on every rerun
    np.testing.assert_allclose(again.embeddings, built.embeddings, atol=1e-6)
    assert f"discarding the damaged embedding cache file {cache_file}" in caplog.text
    np.testing.assert_allclose(np.load(cache_file), built.embeddings, atol=1e-6)  # written whole again
