"""Cross-lingual retrieval evaluation: recall@k, MRR@10 and nDCG@10 per language and direction.

:class:`CLIREvaluator` is a sentence-transformers evaluator (pass it as ``evaluator=`` to
``SentenceTransformerTrainer`` or call it on a model) over one or many :class:`~optical_st.data.CLIRBenchmark`
objects, each a (query language -> document language) retrieval task: FLORES / NTREX / Tatoeba
sentence retrieval, document-level CLIR, or XQuAD-R question -> answer sentence.

How a number is made:

1. Each benchmark's corpus is encoded once through :class:`optical_st.search.CorpusIndex`, its queries
   with the query prompt. The prompts depend on the task (:func:`task_prompts`): translation retrieval
   (``sentence`` and ``document`` level) encodes both sides with the query prompt (e5's ``"query: "``),
   question -> passage retrieval (XQuAD-R) uses the query and document prompts (``"query: "`` /
   ``"passage: "``). The resolved prompts and the encoder of each side are recorded in every result row.
   A text shared by several benchmarks (the English side of FLORES) is encoded once per call.
2. The top ``max(k)`` documents of every query are ranked by exact inner product (FAISS for large corpora).
3. The metric arithmetic is trec_eval's, through ``pytrec_eval`` (the implementation BEIR and MTEB use),
   per query: ``recall@k``, ``mrr@10`` (reciprocal rank within the top 10) and ``ndcg@10``.
4. Means per benchmark, macro averages over all benchmarks and over the low-resource ones
   (:data:`optical_st.languages.LOW_RESOURCE` on either side), and percentile-bootstrap 95% confidence
   intervals over queries (``scipy.stats.bootstrap``; a macro interval averages the benchmarks' bootstrap
   replicates). :func:`paired_test` compares two models on the same queries (paired randomization test,
   ``scipy.stats.permutation_test``) from the per-query values the evaluator keeps.

Example::

    >>> from sentence_transformers import SentenceTransformer
    >>> from optical_st.evaluation import CLIREvaluator, flores_benchmarks
    >>> benchmarks = flores_benchmarks("shared/data/flores200", ["npi", "sin"])  # doctest: +SKIP
    >>> evaluator = CLIREvaluator(benchmarks, k_values=(1, 10))  # doctest: +SKIP
    >>> metrics = evaluator(SentenceTransformer("intfloat/multilingual-e5-small"))  # doctest: +SKIP
    >>> metrics["clir_npi_Deva->eng_Latn_recall@10"]  # doctest: +SKIP
    0.93...
    >>> print(evaluator.to_markdown())  # doctest: +SKIP
"""

from optical_st.data import DIRECTIONS, LEVELS, bitext_benchmarks, flores_benchmarks, load_benchmarks
from optical_st.evaluation._evaluator import CLIREvaluator
from optical_st.evaluation._metrics import DEFAULT_K_VALUES, metric_names, per_query_metrics
from optical_st.evaluation._prompts import SYMMETRIC_LEVELS, task_prompts
from optical_st.evaluation._statistics import PairedTestResult, bootstrap_ci, compare_runs, paired_test
from optical_st.results import PROMPT_FIELDS, describe_prompts, results_to_markdown

__all__ = [
    "DEFAULT_K_VALUES",
    "DIRECTIONS",
    "LEVELS",
    "PROMPT_FIELDS",
    "SYMMETRIC_LEVELS",
    "CLIREvaluator",
    "PairedTestResult",
    "bitext_benchmarks",
    "bootstrap_ci",
    "compare_runs",
    "describe_prompts",
    "flores_benchmarks",
    "load_benchmarks",
    "metric_names",
    "paired_test",
    "per_query_metrics",
    "results_to_markdown",
    "task_prompts",
]
