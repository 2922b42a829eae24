"""Search and evaluation speed: exact (numpy) vs FAISS top-k, and the evaluator's overhead over encoding.

Part 1 searches random unit vectors (dim 384, the width of multilingual-e5-small) with both
backends of :class:`optical_st.search.CorpusIndex` at 10k and 100k documents and prints queries/s
and their ratio, side by side in one run (and checks both return the same top-k).

Part 2 times one :class:`optical_st.evaluation.CLIREvaluator` call on FLORES sentence retrieval
(one language, both directions) and the time spent inside the model's ``encode_*`` calls during
it; the difference is everything the evaluator adds: search, trec_eval metrics, bootstrap CIs.

Run (heavy; takes turns with other heavy jobs)::

    flock ../heavy.lock python bench/search_speed.py --model "$(optical-st fetch-model)" \\
        --flores ../shared/data/flores200 --language npi --limit 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def queries_per_second(index, queries: np.ndarray, k: int, repeats: int) -> float:
    index.search_embeddings(queries[:8], k)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        index.search_embeddings(queries, k)
        best = min(best, time.perf_counter() - start)
    return len(queries) / best


def search_part(sizes: list[int], n_queries: int, dim: int, k: int, repeats: int) -> None:
    from optical_st.search import CorpusIndex

    print(f"## exact vs FAISS top-{k}: {n_queries} queries, dim {dim}, best of {repeats}\n")
    print("| documents | exact q/s | FAISS q/s | FAISS / exact | identical top-k | max score difference |")
    print("|---|---|---|---|---|---|")
    queries = unit_vectors(n_queries, dim, seed=1)
    for size in sizes:
        corpus = unit_vectors(size, dim, seed=0)
        exact = CorpusIndex.from_embeddings(corpus, backend="exact")
        faiss = CorpusIndex.from_embeddings(corpus, backend="faiss")
        exact_scores, exact_indices = exact.search_embeddings(queries, k)
        faiss_scores, faiss_indices = faiss.search_embeddings(queries, k)
        # Rankings can differ only where two documents have exactly the same float32 score (a tie).
        identical = int((exact_indices == faiss_indices).all(axis=1).sum())
        difference = float(np.abs(exact_scores - faiss_scores).max())
        exact_qps = queries_per_second(exact, queries, k, repeats)
        faiss_qps = queries_per_second(faiss, queries, k, repeats)
        print(
            f"| {size:,} | {exact_qps:,.0f} | {faiss_qps:,.0f} | {faiss_qps / exact_qps:.2f} | "
            f"{identical}/{len(queries)} | {difference:.1e} |"
        )


def evaluator_part(model_path: str, flores: str, language: str, batch_size: int, limit: int) -> None:
    from sentence_transformers import SentenceTransformer

    from optical_st.data import load_bitext, sentence_retrieval_benchmark
    from optical_st.evaluation import CLIREvaluator

    model = SentenceTransformer(model_path, device="cpu")
    bitext = load_bitext(flores, language, split="dev").select(range(limit))
    benchmarks = [sentence_retrieval_benchmark(bitext, direction) for direction in ("xx->eng", "eng->xx")]
    model.encode(["warm-up"] * batch_size, batch_size=batch_size)

    # Time spent inside the model's encode calls during one evaluator call = the raw encoding time;
    # everything else (prompt resolution, memo, search, trec_eval, bootstrap) is the evaluator's overhead.
    encoding = 0.0
    for name in ("encode_query", "encode_document"):
        original = getattr(model, name)

        def timed(*args, _original=original, **kwargs):
            nonlocal encoding
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                encoding += time.perf_counter() - start

        setattr(model, name, timed)
    evaluator = CLIREvaluator(benchmarks, k_values=(1, 5, 10), batch_size=batch_size, show_progress_bar=False)
    start = time.perf_counter()
    evaluator(model)
    total = time.perf_counter() - start
    texts = 2 * 2 * limit  # each side once as query ("query: ") and once as document ("passage: ")
    print(
        f"\n## evaluator overhead: {model_path}, FLORES dev {language}, first {limit} pairs, both directions\n"
    )
    print(f"encoding {texts} texts (inside model.encode_*): {encoding:.2f} s")
    print(f"CLIREvaluator call (encode + search + trec_eval + 1000 bootstrap replicates): {total:.2f} s")
    print(
        f"overhead: {total - encoding:.2f} s = {100 * (total - encoding) / encoding:.1f}% of the encoding time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--model", default=None, help="sentence-transformers folder for part 2 (skipped if absent)"
    )
    parser.add_argument("--flores", default="../shared/data/flores200")
    parser.add_argument("--language", default="npi")
    parser.add_argument("--limit", type=int, default=200, help="FLORES dev pairs for part 2 (at most 509)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    search_part([int(s) for s in args.sizes.split(",")], args.queries, args.dim, args.k, args.repeats)
    if args.model:
        evaluator_part(args.model, args.flores, args.language, args.batch_size, args.limit)


if __name__ == "__main__":
    main()
