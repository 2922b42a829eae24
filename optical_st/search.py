"""Encode a corpus once and search it: exact top-k by matrix product, or a FAISS inner-product index.

:class:`CorpusIndex` is what the evaluator and the demo share. It encodes the documents once (with
a progress bar, in batches, through the model's document prompt), optionally caches the embeddings
on disk under a key made of the model's weights and the corpus text, and answers top-k queries.

Two backends give the same ranking (a test checks it):

* ``"exact"``: one matrix product per chunk of queries and a partial sort (numpy); best for the
  corpora this project evaluates on (hundreds to tens of thousands of documents).
* ``"faiss"``: ``faiss.IndexFlatIP``, the exact inner-product index of faiss-cpu, for large corpora.

``backend="auto"`` picks FAISS from :data:`FAISS_THRESHOLD` documents on (see ``bench/search_speed.py``).
Scores are cosine similarities for models whose similarity is cosine (embeddings are L2-normalised),
and raw inner products for dot-product models.

Example::

    >>> from sentence_transformers import SentenceTransformer
    >>> from optical_st.search import CorpusIndex
    >>> model = SentenceTransformer("intfloat/multilingual-e5-small")  # doctest: +SKIP
    >>> index = CorpusIndex(model, ["Kathmandu is the capital of Nepal.", "Colombo is in Sri Lanka."],
    ...                     ids=["d1", "d2"])  # doctest: +SKIP
    >>> index.search(["नेपालको राजधानी"], k=1)  # doctest: +SKIP
    [[('d1', 0.87...)]]
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Backend = Literal["auto", "exact", "faiss"]
Role = Literal["query", "document"]

FAISS_THRESHOLD = 100_000
"""Corpus size from which ``backend="auto"`` uses FAISS. ``bench/search_speed.py`` measured FAISS about
2x faster on 1,000-query batches (10k and 100k documents), but below this size a search is a few ms
either way, and the demo's one-query searches stay on the same thread pool as the encoder (FAISS's
OpenMP pool would compete with it for the cores); FAISS scans in its own blocks and is the index to
swap for an approximate one."""

_DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")
_SCORE_BLOCK_FLOATS = 64 * 1024 * 1024  # 256 MB of float32 scores per exact-search block
_SUPPORTED_SIMILARITIES = ("cosine", "dot")


def resolve_prompt(
    model: SentenceTransformer, role: Role, prompt: str | None = None, prompt_name: str | None = None
) -> str:
    """The prompt string the model will prepend for ``role``, as ``encode_query``/``encode_document`` choose it.

    An explicit ``prompt`` wins, then ``prompt_name`` looked up in ``model.prompts`` (a model with no
    prompts at all gets none; one with other prompts raises), then the model's
    own ``"query"`` prompt (queries) or first of ``"document"``, ``"passage"``, ``"corpus"`` (documents);
    e5 models saved with prompts therefore get ``"query: "``/``"passage: "`` without being told.
    Resolving it here makes the prompt part of the cache key.
    """
    if prompt is not None:
        return prompt
    prompts = getattr(model, "prompts", None) or {}
    if prompt_name is not None:
        if prompt_name not in prompts and not any(prompts.values()):
            # A model trained without prompts (e.g. all-MiniLM-L6-v2 as OPTICAL's English encoder beside
            # an e5 student): a prompt name asked of every encoder means "its own prompt", here none.
            return ""
        if prompt_name not in prompts:
            raise ValueError(
                f"Prompt name {prompt_name!r} is not one of the model's prompts {sorted(prompts)}."
            )
        return prompts[prompt_name]
    names = ("query",) if role == "query" else _DOCUMENT_PROMPT_NAMES
    # sentence-transformers adds an empty "document" prompt to every model; it must not hide "passage".
    return next((prompts[name] for name in names if prompts.get(name)), "")


def complete_document_prompt(model: SentenceTransformer) -> bool:
    """Fill an empty ``"document"`` prompt with the model's passage/corpus prompt; True when it changed.

    sentence-transformers registers an empty ``"document"`` prompt on a model saved with only
    ``"query"``/``"passage"``, so ``encode_document`` (and mteb) add no prefix where :func:`resolve_prompt`
    adds ``"passage: "``. A model saved after this call encodes documents the same way everywhere.
    """
    prompts = getattr(model, "prompts", None)
    if prompts is None or prompts.get("document"):
        return False
    document = resolve_prompt(model, "document")
    if not document:
        return False
    prompts["document"] = document
    return True


def embedding_dimension(model: SentenceTransformer) -> int | None:
    """The model's embedding size, without the FutureWarning of the old name (renamed in sentence-transformers 6).

    sentence-transformers 5.x has only ``get_sentence_embedding_dimension``; 6.x warns on it at every call.
    """
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def similarity_name(model: SentenceTransformer) -> str:
    """``"cosine"`` or ``"dot"``: the model's similarity, which decides whether embeddings are normalised."""
    name = getattr(model, "similarity_fn_name", None) or "cosine"
    name = str(getattr(name, "value", name))
    if name not in _SUPPORTED_SIMILARITIES:
        raise ValueError(
            f"Model similarity {name!r} is not supported for search; use a model whose similarity is one of "
            f"{_SUPPORTED_SIMILARITIES} (inner-product search)."
        )
    return name


def model_fingerprint(model: SentenceTransformer) -> str:
    """A hex digest of everything that decides a model's embeddings: module layout, config and all weights.

    Weights are hashed in full (about half a second for multilingual-e5-small), so a model that changed
    during training never reads another step's cached embeddings.
    """
    import torch

    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr(model).encode())
    digest.update(repr(sorted((getattr(model, "prompts", None) or {}).items())).encode())
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def texts_fingerprint(texts: Sequence[str], *extra: str) -> str:
    """A hex digest of an ordered list of texts (and settings such as the prompt)."""
    digest = hashlib.blake2b(digest_size=20)
    for item in (*extra, "\x00texts", *texts):
        digest.update(item.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def embedding_cache_file(
    model: SentenceTransformer,
    texts: Sequence[str],
    cache_dir: str | Path,
    *,
    prompt: str,
    fingerprint: str | None = None,
    normalize: bool | None = None,
) -> Path:
    """Where :func:`encode_texts` keeps the embeddings of ``texts`` (with the resolved ``prompt``).

    The file exists when they were encoded before; a caller that encodes in its own steps (the demo,
    chunk by chunk) asks here first and fills the same file through ``encode_texts(..., memo=...)``.
    """
    fingerprint = fingerprint or model_fingerprint(model)
    if normalize is None:
        normalize = similarity_name(model) == "cosine"
    key = texts_fingerprint(texts, prompt, f"normalize={normalize}")
    return Path(cache_dir) / f"{fingerprint[:20]}-{key[:20]}.npy"


def encode_texts(
    model: SentenceTransformer,
    texts: Sequence[str],
    *,
    role: Role = "document",
    prompt: str | None = None,
    prompt_name: str | None = None,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
    cache_dir: str | Path | None = None,
    memo: dict[tuple[str, str], np.ndarray] | None = None,
    fingerprint: str | None = None,
) -> np.ndarray:
    """Encode ``texts`` for ``role`` into a ``(len(texts), dim)`` float32 array, each distinct text once.

    Args:
        model: a SentenceTransformer.
        texts: the texts, in the order of the rows returned.
        role: ``"query"`` or ``"document"``: decides the default prompt (see :func:`resolve_prompt`).
        prompt: explicit prompt string (e.g. ``"query: "``); overrides the model's prompts.
        prompt_name: name of one of the model's prompts.
        batch_size: encoding batch size.
        show_progress_bar: tqdm bar while encoding (default: when logging at INFO or below).
        cache_dir: if given, embeddings are stored there as ``.npy`` files keyed by the model fingerprint,
            the prompt and the text hash, and read back on the next call.
        memo: an in-memory ``{(prompt, text): vector}`` shared across calls, so a text that occurs in
            several benchmarks (the English side of FLORES, for instance) is encoded once.
        fingerprint: a precomputed :func:`model_fingerprint` (saves re-hashing the weights).

    Returns:
        ``np.ndarray`` of shape ``(len(texts), dim)``, dtype float32, L2-normalised when the model's
        similarity is cosine.
    """
    texts = list(texts)
    if any(not isinstance(text, str) for text in texts):
        raise TypeError("encode_texts expects a sequence of strings.")
    prompt_text = resolve_prompt(model, role, prompt, prompt_name)
    normalize = similarity_name(model) == "cosine"

    cache_file = None
    if cache_dir is not None and texts:
        cache_file = embedding_cache_file(
            model, texts, cache_dir, prompt=prompt_text, fingerprint=fingerprint, normalize=normalize
        )
        embeddings = _read_cache(cache_file, len(texts))
        if embeddings is not None:
            if memo is not None:
                memo.update({(prompt_text, text): row for text, row in zip(texts, embeddings, strict=True)})
            return embeddings

    known = memo if memo is not None else {}
    missing = list(dict.fromkeys(text for text in texts if (prompt_text, text) not in known))
    if missing:
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        encode = model.encode_query if role == "query" else model.encode_document
        fresh = encode(
            missing,
            prompt=prompt_text,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            convert_to_numpy=True,
            normalize_embeddings=normalize,
        )
        fresh = np.asarray(fresh, dtype=np.float32)
        known.update({(prompt_text, text): row for text, row in zip(missing, fresh, strict=True)})
    if not texts:
        dim = embedding_dimension(model) or 0
        return np.zeros((0, dim), dtype=np.float32)
    embeddings = np.stack([known[(prompt_text, text)] for text in texts]).astype(np.float32, copy=False)

    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so an interrupted run never leaves a truncated cache entry.
        with tempfile.NamedTemporaryFile(dir=cache_file.parent, suffix=".npy", delete=False) as handle:
            np.save(handle, embeddings)
        os.replace(handle.name, cache_file)
    return embeddings


def _read_cache(cache_file: Path, n_texts: int) -> np.ndarray | None:
    """The cached embeddings, or ``None`` (absent, another length, or damaged: then discarded and recomputed).

    A damaged file (a disk error, a copy cut short) used to fail every rerun with numpy's message and no path.
    """
    if not cache_file.is_file():
        return None
    try:
        embeddings = np.load(cache_file, allow_pickle=False)
        if embeddings.ndim != 2:
            raise ValueError(f"{embeddings.ndim} dimensions")
    except (OSError, ValueError, EOFError) as error:
        logger.warning(
            "discarding the damaged embedding cache file %s (%s); recomputing it", cache_file, error
        )
        cache_file.unlink(missing_ok=True)
        return None
    if embeddings.shape[0] != n_texts:
        logger.warning(
            "Ignoring cache file %s with %d rows for %d texts", cache_file, len(embeddings), n_texts
        )
        return None
    logger.info("Read %d cached embeddings from %s", n_texts, cache_file)
    return embeddings


def exact_top_k(
    query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, k: int, *, chunk_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products by matrix product, ties broken by lower corpus index.

    Args:
        query_embeddings: ``(n_queries, dim)`` float32.
        corpus_embeddings: ``(n_documents, dim)`` float32.
        k: number of hits per query, ``1 <= k <= n_documents``.
        chunk_size: queries per matrix product; default: up to 1,024, fewer for large corpora so that a
            ``chunk_size x n_documents`` score block stays under about 256 MB.

    Returns:
        ``(scores, indices)``, both ``(n_queries, k)``, best first.
    """
    n_documents = corpus_embeddings.shape[0]
    _check_k(k, n_documents)
    if chunk_size is None:
        chunk_size = max(1, min(1024, _SCORE_BLOCK_FLOATS // n_documents))
    query_embeddings = np.ascontiguousarray(query_embeddings, dtype=np.float32)
    corpus_tensor = torch.from_numpy(np.ascontiguousarray(corpus_embeddings, dtype=np.float32))
    scores_out = np.empty((query_embeddings.shape[0], k), dtype=np.float32)
    indices_out = np.empty((query_embeddings.shape[0], k), dtype=np.int64)
    for start in range(0, query_embeddings.shape[0], chunk_size):
        # torch's matmul, not numpy's: numpy's BLAS brings a second thread pool whose idle workers spin
        # and steal the cores the encoder's pool needs (demo latency 131 ms vs 57 ms, bench/demo_latency.py).
        scores = (torch.from_numpy(query_embeddings[start : start + chunk_size]) @ corpus_tensor.T).numpy()
        if k < n_documents:
            candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            candidates = np.broadcast_to(np.arange(n_documents), scores.shape)
        candidate_scores = np.take_along_axis(scores, candidates, axis=1)
        # lexsort: last key is primary, so this sorts by descending score, then ascending index.
        order = np.lexsort((candidates, -candidate_scores), axis=1)
        indices_out[start : start + chunk_size] = np.take_along_axis(candidates, order, axis=1)
        scores_out[start : start + chunk_size] = np.take_along_axis(candidate_scores, order, axis=1)
    return scores_out, indices_out


def _check_k(k: int, n_documents: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if k > n_documents:
        raise ValueError(
            f"k={k} is larger than the corpus ({n_documents} documents); use k <= {n_documents}."
        )


class CorpusIndex:
    """A corpus encoded once, searchable by text or by embedding.

    Args:
        model: the SentenceTransformer that encodes documents (and later the queries).
        documents: the document texts, or a ``{doc_id: text}`` mapping.
        ids: document ids (default: ``"0"``, ``"1"``, ...); ignored when ``documents`` is a mapping.
        prompt: explicit document prompt, e.g. ``"passage: "`` (default: the model's saved document prompt).
        prompt_name: name of one of the model's prompts for documents.
        batch_size: encoding batch size.
        backend: ``"exact"``, ``"faiss"`` or ``"auto"`` (FAISS from :data:`FAISS_THRESHOLD` documents).
        cache_dir: directory for the on-disk embedding cache (keyed by model fingerprint + corpus hash).
        show_progress_bar: tqdm bar while encoding (default: when logging at INFO or below).
        memo: in-memory ``{(prompt, text): vector}`` shared with other indexes (see :func:`encode_texts`).
        fingerprint: precomputed :func:`model_fingerprint`.

    Attributes:
        ids (list[str]): document ids, row order of ``embeddings``.
        embeddings (np.ndarray): ``(n_documents, dim)`` float32.
        backend (str): the backend actually used, ``"exact"`` or ``"faiss"``.

    Example::

        >>> index = CorpusIndex(model, {"d1": "Kathmandu is the capital of Nepal."})  # doctest: +SKIP
        >>> index.search("राजधानी", k=1)  # doctest: +SKIP
        [[('d1', 0.83...)]]
    """

    def __init__(
        self,
        model: SentenceTransformer,
        documents: Sequence[str] | Mapping[str, str],
        ids: Sequence[str] | None = None,
        *,
        prompt: str | None = None,
        prompt_name: str | None = None,
        batch_size: int = 32,
        backend: Backend = "auto",
        cache_dir: str | Path | None = None,
        show_progress_bar: bool | None = None,
        memo: dict[tuple[str, str], np.ndarray] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        if isinstance(documents, Mapping):
            ids, texts = [str(i) for i in documents], list(documents.values())
        else:
            texts = list(documents)
            ids = [str(i) for i in range(len(texts))] if ids is None else [str(i) for i in ids]
        embeddings = encode_texts(
            model,
            texts,
            role="document",
            prompt=prompt,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            cache_dir=cache_dir,
            memo=memo,
            fingerprint=fingerprint,
        )
        self._init(embeddings, ids, backend)
        self.model = model
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_embeddings(
        cls, embeddings: np.ndarray, ids: Sequence[str] | None = None, *, backend: Backend = "auto"
    ) -> CorpusIndex:
        """An index over precomputed ``(n_documents, dim)`` embeddings; search it with :meth:`search_embeddings`."""
        index = cls.__new__(cls)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        ids = [str(i) for i in range(len(embeddings))] if ids is None else [str(i) for i in ids]
        index._init(embeddings, ids, backend)
        index.model = None
        index.batch_size = 32
        index.show_progress_bar = None
        return index

    def _init(self, embeddings: np.ndarray, ids: list[str], backend: Backend) -> None:
        if embeddings.ndim != 2:
            raise ValueError(f"Embeddings must be 2-D (n_documents, dim), got shape {embeddings.shape}.")
        if len(ids) != embeddings.shape[0]:
            raise ValueError(f"{len(ids)} ids for {embeddings.shape[0]} documents.")
        if len(ids) == 0:
            raise ValueError("Cannot index an empty corpus.")
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"Document ids must be unique; repeated: {duplicates}.")
        if backend not in ("auto", "exact", "faiss"):
            raise ValueError(f"backend must be 'auto', 'exact' or 'faiss', got {backend!r}.")
        if backend == "auto":
            backend = "faiss" if len(ids) >= FAISS_THRESHOLD else "exact"
        self.ids = ids
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.backend = backend
        self._faiss_index = None
        if backend == "faiss":
            import faiss

            self._faiss_index = faiss.IndexFlatIP(self.embeddings.shape[1])
            self._faiss_index.add(self.embeddings)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def search_embeddings(self, query_embeddings: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents for each row of ``query_embeddings`` ``(n_queries, dim)``.

        Returns:
            ``(scores, indices)``, each ``(n_queries, k)``, best first; ``indices`` index :attr:`ids`.

        Raises:
            ValueError: if ``k`` is larger than the corpus or the dimensions differ.
        """
        query_embeddings = np.ascontiguousarray(np.atleast_2d(query_embeddings), dtype=np.float32)
        if query_embeddings.shape[1] != self.dim:
            raise ValueError(f"Query dimension {query_embeddings.shape[1]} != corpus dimension {self.dim}.")
        _check_k(k, len(self))
        if self._faiss_index is not None:
            scores, indices = self._faiss_index.search(query_embeddings, k)
            return scores, indices.astype(np.int64)
        return exact_top_k(query_embeddings, self.embeddings, k)

    def search(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        *,
        prompt: str | None = None,
        prompt_name: str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Encode ``queries`` (with the model's query prompt) and return their top-``k`` documents.

        Args:
            queries: one query or a list of queries.
            k: hits per query (at most the corpus size).
            prompt: explicit query prompt, e.g. ``"query: "``; default: the model's saved ``"query"`` prompt.
            prompt_name: name of one of the model's prompts.

        Returns:
            One list per query of ``(doc_id, score)`` pairs, best first.
        """
        if self.model is None:
            raise ValueError(
                "This index was built from embeddings; use search_embeddings() with query vectors."
            )
        if isinstance(queries, str):
            queries = [queries]
        _check_k(k, len(self))
        query_embeddings = encode_texts(
            self.model,
            list(queries),
            role="query",
            prompt=prompt,
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            show_progress_bar=False,
        )
        scores, indices = self.search_embeddings(query_embeddings, k)
        return [
            [(self.ids[i], float(s)) for i, s in zip(row_indices, row_scores, strict=True)]
            for row_indices, row_scores in zip(indices, scores, strict=True)
        ]
