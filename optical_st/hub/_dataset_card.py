"""The dataset card of a pushed benchmark: configs per language pair, licence, sources and citations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from optical_st.hub._cards import as_list, benchmark_meta, cards_dir, iso_code, validate_card
from optical_st.hub._licences import dataset_license
from optical_st.languages import language_label

BENCHMARK_PARTS = ("corpus", "queries", "qrels")


# benchmarks ----------------------------------------------------------------------------------------
@dataclass
class BenchmarkLayout:
    benchmark: Any
    prefix: str  # "" for a single benchmark, else the folder/config prefix "{query}-{document}"
    files: dict[str, list[str]]
    counts: dict[str, int]


def benchmark_key(benchmark: Any) -> str:
    return f"{benchmark.query_language}-{benchmark.document_language}"


def render_dataset_card(
    layouts: Sequence[BenchmarkLayout],
    repo_id: str,
    *,
    license: str | None = None,
    pretty_name: str | None = None,
) -> str:
    """The dataset card (``README.md``) with ``configs`` for corpus/queries/qrels per language pair."""
    import jinja2

    benchmarks = [layout.benchmark for layout in layouts]
    chosen, license_sentence, sources = dataset_license(benchmarks, license)
    configs, pairs, iso, citations, romanizers, total = [], [], [], [], [], 0
    for layout in layouts:
        benchmark = layout.benchmark
        for part in BENCHMARK_PARTS:
            name = f"{layout.prefix}-{part}" if layout.prefix else part
            configs.append(
                {"config_name": name, "data_files": [{"split": "test", "path": layout.files[part]}]}
            )
        for code in (benchmark.query_language, benchmark.document_language):
            short = iso_code(code)
            if short and short not in iso:
                iso.append(short)
        romanizer = benchmark_meta(benchmark, "romanizer")
        if isinstance(romanizer, dict) and romanizer not in romanizers:
            romanizers.append(romanizer)
        citation = benchmark_meta(benchmark, "citation")
        romanizer_citation = romanizer.get("citation") if isinstance(romanizer, dict) else None
        for item in [*as_list(citation), *as_list(romanizer_citation)]:
            if item and str(item).strip() not in citations:
                citations.append(str(item).strip())
        total += sum(layout.counts.values())
        pairs.append(
            {
                "name": benchmark.name,
                "prefix": layout.prefix,
                "query": language_label(benchmark.query_language, with_code=True),
                "document": language_label(benchmark.document_language, with_code=True),
                "level": benchmark_meta(benchmark, "level") or "",
                **layout.counts,
                "url": next(iter(str(benchmark_meta(benchmark, "url", "source_url") or "").split()), ""),
            }
        )
    size = (
        "n<1K"
        if total < 1_000
        else "1K<n<10K"
        if total < 10_000
        else "10K<n<100K"
        if total < 100_000
        else "100K<n<1M"
    )
    metadata = {
        "pretty_name": pretty_name
        or (benchmarks[0].name if len(benchmarks) == 1 else repo_id.split("/")[-1]),
        "license": chosen,
        "language": iso,
        "multilinguality": "multilingual" if len(iso) > 1 else "monolingual",
        "task_categories": ["text-retrieval"],
        "task_ids": ["document-retrieval"],
        "size_categories": [size],
        "tags": ["optical-st", "cross-lingual-retrieval", "clir", "south-asian-languages", "mteb-layout"],
        "configs": configs,
    }
    template = jinja2.Template((cards_dir() / "dataset_card.md").read_text(encoding="utf-8"))
    text = template.render(
        card_data=yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip(),
        repo_id=repo_id,
        pairs=pairs,
        sources=sources,
        license_sentence=license_sentence,
        citations=citations,
        romanizers=romanizers,
        single=len(layouts) == 1,
        **metadata,
    )
    validate_card(text, "dataset")
    return text


def eval_yaml(layouts: Sequence[BenchmarkLayout], pretty_name: str) -> dict:
    tasks = []
    for layout in layouts:
        config = f"{layout.prefix}-queries" if layout.prefix else "queries"
        tasks.append({"id": benchmark_key(layout.benchmark), "config": config, "split": "test"})
    return {
        "name": pretty_name,
        "description": "Cross-lingual retrieval (queries -> corpus, relevance in qrels); headline metric recall@10.",
        "evaluation_framework": "optical-st",
        "tasks": tasks,
    }
