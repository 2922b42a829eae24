"""Every network call of optical-st: model and dataset cards, push and pull, the offline cache.

Pushing always writes the exact repository content to a local folder first (model files or the
benchmark's parquet files, ``README.md`` with the card, ``.eval_results/`` or ``eval.yaml``), then
uploads that folder in one commit. A failed push (missing or rejected token, unreachable Hub,
existing repository) raises a :class:`HubError` naming the local folder, which stays complete.

Pulling goes through ``huggingface_hub.snapshot_download``, so ``HF_HUB_OFFLINE=1``, ``HF_HOME`` /
``HF_HUB_CACHE`` and ``HF_ENDPOINT`` work as everywhere in the Hugging Face ecosystem; a local
directory is accepted wherever a Hub id is.

Cards are rendered from the Jinja templates in ``hub_cards/`` (``model_card.md``,
``dataset_card.md``), the way ``ModelCard.from_template`` does. The model card builds on
sentence-transformers' own :class:`~sentence_transformers.SentenceTransformerModelCardData`
(architecture, usage snippet, hyperparameters, loss citations, framework versions) and adds the
OPTICAL parts: teacher, loss settings, training bitext with licences and citations, the CLIR table
per language and direction, ``model-index`` metadata and the newer ``.eval_results/*.yaml`` format.

Tokens are read from the explicit argument, ``HF_TOKEN`` or the ``hf auth login`` cache, in that
order. A token never appears in a card, a log line or an exception message.

Example::

    from optical_st.hub import download_model, push_model

    url = push_model("runs/npi-sin-ot", "me/e5-small-optical-npi-sin",
                     evaluation_results="runs/npi-sin-ot/eval/results.json")
    local = download_model("me/e5-small-optical-npi-sin")   # cached; works with HF_HUB_OFFLINE=1
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from optical_st.languages import ENGLISH, UnknownLanguageError, get_language

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer, SentenceTransformerModelCardData

    from optical_st.data import CLIRBenchmark

logger = logging.getLogger(__name__)

RUN_INFO_FILE = "optical_st_run.json"
"""Written next to a trained model by :func:`save_run_info`; :func:`push_model` reads it back."""

EVAL_RESULTS_FILE = ".eval_results/optical-st.yaml"
BENCHMARK_PARTS = ("corpus", "queries", "qrels")
RESULT_FIELDS = ("benchmark", "query_language", "document_language", "metric", "k", "value")
MODEL_CARD_REQUIRED = ("language", "library_name", "pipeline_tag", "tags")
DATASET_CARD_REQUIRED = ("license", "language", "configs", "task_categories", "pretty_name")
SECRET_KEY = re.compile(r"token|secret|password|api_?key|authorization", re.IGNORECASE)

OPTICAL_CITATION = """@inproceedings{huang2023optical,
  title = {Improving Cross-lingual Information Retrieval on Low-Resource Languages via Optimal Transport Distillation},
  author = {Huang, Zhiqi and Yu, Puxuan and Allan, James},
  booktitle = {Proceedings of the Sixteenth ACM International Conference on Web Search and Data Mining (WSDM '23)},
  year = {2023},
  eprint = {2301.12566},
  archivePrefix = {arXiv}
}"""

# Spellings found in SOURCE.md files and user metadata -> Hub licence ids.
_LICENSE_IDS = {
    "cc by-sa 4.0": "cc-by-sa-4.0",
    "cc-by-sa-4.0": "cc-by-sa-4.0",
    "cc by-sa 3.0": "cc-by-sa-3.0",
    "cc-by-sa-3.0": "cc-by-sa-3.0",
    "cc by 4.0": "cc-by-4.0",
    "cc-by-4.0": "cc-by-4.0",
    "cc by 2.0 fr": "cc-by-2.0",
    "cc by 2.0": "cc-by-2.0",
    "cc-by-2.0": "cc-by-2.0",
    "cc0": "cc0-1.0",
    "cc0 1.0": "cc0-1.0",
    "cc0-1.0": "cc0-1.0",
    "mit": "mit",
    "apache-2.0": "apache-2.0",
    "apache 2.0": "apache-2.0",
}


# errors ------------------------------------------------------------------------------------------
class HubError(RuntimeError):
    """A push or pull failed; the message says what to do and never contains a token."""


class HubAuthenticationError(HubError):
    """No token was found, or the Hub rejected it."""


class HubRepoExistsError(HubError):
    """The repository already exists and ``exist_ok`` was not given."""


class HubConnectionError(HubError):
    """The Hub could not be reached (network failure, or ``HF_HUB_OFFLINE=1`` for a push)."""


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "<redacted token>") if token else text


def resolve_token(token: str | None = None) -> str:
    """The token to push with: ``token`` if given, else ``HF_TOKEN``, else the ``hf auth login`` cache.

    Raises:
        HubAuthenticationError: when none of the three holds a token.
    """
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise HubAuthenticationError(
            "No Hugging Face token found: set HF_TOKEN, run `hf auth login`, or pass token=... (--token)."
        )
    return found


@contextlib.contextmanager
def _hub_errors(action: str, token: str | None, local_dir: Path | None, endpoint: str) -> Iterator[None]:
    """Turn huggingface_hub/httpx failures into one readable :class:`HubError` without the token."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    safe = f" Nothing was lost: the files are in {local_dir}." if local_dir is not None else ""
    try:
        yield
    except HubError:
        raise
    except OfflineModeIsEnabled:
        raise HubConnectionError(f"Cannot {action}: HF_HUB_OFFLINE=1 is set.{safe}") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        server = _redact(str(getattr(error, "server_message", "") or ""), token).strip()
        detail = f" (HTTP {status}{': ' + server if server else ''})"
        if status in (401, 403):
            raise HubAuthenticationError(
                f"The Hub at {endpoint} rejected the token while trying to {action}{detail}. Check HF_TOKEN, "
                f"`hf auth login` or --token, and that the token may write to this namespace.{safe}"
            ) from None
        if status == 409 and action.startswith("create"):
            raise HubRepoExistsError(
                f"Cannot {action}: the repository already exists{detail}. Pass exist_ok=True "
                f"(--exist-ok) to add a new commit to it.{safe}"
            ) from None
        raise HubError(f"The Hub refused to {action}{detail}.{safe}") from None
    except ValueError as error:
        if not str(error).startswith("Invalid metadata in README.md"):
            raise
        # huggingface_hub asks the Hub to validate README.md before uploading (/api/validate-yaml)
        raise HubError(f"The Hub rejected the card's metadata: {_redact(str(error), token)}{safe}") from None
    except Exception as error:
        if isinstance(error, OSError) or _is_transport_error(error):
            raise HubConnectionError(
                f"Could not reach the Hub at {endpoint} to {action} ({type(error).__name__}).{safe}"
            ) from None
        if token and token in str(error):  # unexpected error quoting the token: keep the facts, not the token
            raise HubError(f"Failed to {action}: {_redact(str(error), token)}{safe}") from None
        raise


def _is_transport_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    return module.split(".")[0] in ("httpx", "httpx2", "httpcore") or isinstance(error, TimeoutError)


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


# pull ----------------------------------------------------------------------------------------------
def _snapshot(repo_id: str | Path, repo_type: str, revision: str | None) -> Path:
    local = Path(repo_id).expanduser()
    if local.is_dir():
        return local
    repo_id = str(repo_id)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with _hub_errors(f"download {repo_type} repository {repo_id}", None, None, _endpoint(None)):
        try:
            return Path(snapshot_download(repo_id, repo_type=repo_type, revision=revision))
        except RepositoryNotFoundError:
            raise HubError(
                f"No {repo_type} repository {repo_id!r} on {_endpoint(None)} and no such local directory "
                "(if it is private, set HF_TOKEN)."
            ) from None
        except RevisionNotFoundError:
            raise HubError(f"{repo_type} repository {repo_id!r} has no revision {revision!r}.") from None
        except LocalEntryNotFoundError:
            raise HubConnectionError(
                f"{repo_type} repository {repo_id!r} is not in the local Hugging Face cache and the Hub cannot "
                "be used (HF_HUB_OFFLINE=1 or no network). Download it once online, or give a local directory."
            ) from None


def download_model(repo_id: str | Path, revision: str | None = None) -> Path:
    """Local folder of a model given as a Hub id (downloaded or taken from the cache) or a local path.

    Honors ``HF_HUB_OFFLINE=1`` (cache only) and ``HF_ENDPOINT``/``HF_HOME``. Raises :class:`HubError`.
    """
    return _snapshot(repo_id, "model", revision)


def download_dataset(repo_id: str | Path, revision: str | None = None) -> Path:
    """Local folder of a dataset repository (Hub id or local path); see :func:`download_model`."""
    return _snapshot(repo_id, "dataset", revision)


# helpers shared by both cards ----------------------------------------------------------------------
def cards_dir() -> Path:
    """The folder holding the Jinja card templates (packaged copy first, then the source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "hub_cards", here.parent / "hub_cards"):
        if (candidate / "model_card.md").is_file():
            return candidate
    raise FileNotFoundError(f"Card templates not found next to {here} (expected hub_cards/model_card.md).")


def license_id(licence: str | None) -> str | None:
    """Hub licence id for a spelling such as ``"CC BY-SA 4.0"``; ``None`` when unknown."""
    if not licence:
        return None
    key = re.sub(
        r"\s+", " ", str(licence).strip().lower().replace("licence", "").replace("license", "")
    ).strip()
    return _LICENSE_IDS.get(key)


def _iso(code: str) -> str | None:
    try:
        language = get_language(code)
    except UnknownLanguageError:
        return None
    return language.iso639_1 or language.iso639_3


def _language_label(code: str) -> str:
    try:
        return f"{get_language(code).name} (`{get_language(code).code}`)"
    except UnknownLanguageError:
        return f"`{code}`"


def _scrub(value: Any) -> Any:
    """Copy of a JSON-like value with secret-looking keys dropped (tokens never reach a card)."""
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def _yaml_front_matter(text: str) -> dict:
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.DOTALL)
    if not match:
        raise ValueError("The card has no YAML front matter.")
    data = yaml.safe_load(match.group(1)) or {}
    if not isinstance(data, dict):
        raise ValueError("The card's YAML front matter is not a mapping.")
    return data


def validate_card(text: str, kind: str) -> dict:
    """Parse a card's YAML metadata and check the fields the Hub and this project rely on.

    Args:
        text: the whole ``README.md``.
        kind: ``"model"`` or ``"dataset"``.

    Returns:
        The parsed metadata.

    Raises:
        ValueError: metadata does not parse, required fields are missing/empty (all named), or
            ``base_model``/``datasets`` hold something other than Hub ids.
    """
    data = _yaml_front_matter(text)
    required = MODEL_CARD_REQUIRED if kind == "model" else DATASET_CARD_REQUIRED
    missing = [name for name in required if not data.get(name)]
    if missing:
        raise ValueError(f"The {kind} card lacks required metadata: {', '.join(missing)}.")
    if kind == "model" and "model-index" in data:
        from huggingface_hub.repocard_data import model_index_to_eval_results

        model_index_to_eval_results(data["model-index"])  # raises on a malformed model-index
    # Hub ids, never local paths: the Hub links these fields to repositories.
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    for name in ("base_model", "datasets"):
        bad = []
        for value in _as_list(data.get(name)):
            try:
                validate_repo_id(value)
            except (HFValidationError, TypeError):
                bad.append(value)
        if bad:
            raise ValueError(f"The {kind} card's {name} must be Hub ids (owner/name), got {bad}.")
    if kind == "dataset":
        for config in data["configs"]:
            if not config.get("config_name") or not config.get("data_files"):
                raise ValueError(f"Dataset card config without name or data_files: {config!r}")
    return data


# evaluation rows -----------------------------------------------------------------------------------
def load_results(evaluation_results: Any) -> list[dict]:
    """Tidy evaluation rows from a ``CLIREvaluator`` (``.results``), a list of rows, or a JSON file.

    A row has ``benchmark, query_language, document_language, metric, k, value`` and optionally
    ``level, ci_low, ci_high, n_queries`` (the ``CLIREvaluator.results`` layout).

    Raises:
        ValueError: a row lacks a field or has a non-finite value (never a silent wrong table).
    """
    if evaluation_results is None:
        return []
    if hasattr(evaluation_results, "results") and not isinstance(evaluation_results, Mapping):
        evaluation_results = evaluation_results.results
    if isinstance(evaluation_results, str | Path):
        path = Path(evaluation_results)
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, Mapping):
            loaded = loaded.get("results") or loaded.get("rows")
        if not isinstance(loaded, list):
            raise ValueError(f"{path}: expected a list of result rows (or {{'results': [...]}}).")
        evaluation_results = loaded
    rows = []
    for index, row in enumerate(evaluation_results):
        if not isinstance(row, Mapping):
            raise ValueError(f"Evaluation result {index} is not a mapping: {row!r}")
        missing = [name for name in RESULT_FIELDS if name not in row or row[name] is None]
        if missing:
            raise ValueError(f"Evaluation result {index} lacks {', '.join(missing)}: {dict(row)!r}")
        value = float(row["value"])
        if not math.isfinite(value):
            raise ValueError(f"Evaluation result {index} has a non-finite value: {dict(row)!r}")
        clean = {**row, "value": value}
        for bound in ("ci_low", "ci_high"):  # NaN = no interval computed (n_bootstrap=0)
            if clean.get(bound) is not None and not math.isfinite(float(clean[bound])):
                clean[bound] = None
        rows.append(clean)
    return rows


def _is_aggregate(row: Mapping) -> bool:
    """Macro-average rows of ``CLIREvaluator`` have ``*`` as languages."""
    return row["query_language"] == "*" or row["document_language"] == "*"


def _metric_label(metric: str, k: Any) -> str:
    names = {
        "recall": "Recall",
        "mrr": "MRR",
        "ndcg": "nDCG",
        "map": "MAP",
        "precision": "Precision",
        "accuracy": "Accuracy",
    }
    name = names.get(str(metric).lower(), str(metric))
    return f"{name}@{k}" if k not in (None, "", 0) else name


def _metric_type(metric: str, k: Any) -> str:
    return f"{str(metric).lower()}_at_{k}" if k not in (None, "", 0) else str(metric).lower()


def _row_config(row: Mapping) -> str:
    return f"{row['query_language']}-{row['document_language']}"


def _hub_id_form(value: Any) -> bool:
    """``owner/name`` in form (see :func:`_looks_like_hub_id` for names that could be local folders)."""
    return isinstance(value, str) and bool(re.fullmatch(r"[\w.-]+/[\w.-]+", value))


def dataset_links(
    rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None
) -> list[tuple[str, str] | None]:
    """``(Hub dataset id, config of its queries)`` of every row, or ``None`` when it has no Hub dataset.

    A row evaluated on a benchmark loaded from the Hub carries ``dataset_id``/``dataset_config``
    (:func:`optical_st.data.load_benchmark`). Otherwise ``benchmark_ids`` maps the benchmark name to
    the dataset a :func:`push_benchmark` created; its configs are ``queries`` for one language pair
    and ``{query}-{document}-queries`` when several evaluated pairs map to the same dataset.
    """
    benchmark_ids = dict(benchmark_ids or {})

    def dataset_id(row: Mapping) -> str | None:
        if row.get("dataset_id"):
            return str(row["dataset_id"])
        found = benchmark_ids.get(row["benchmark"])
        return found or (str(row["benchmark"]) if _hub_id_form(row["benchmark"]) else None)

    pairs: dict[str, set[str]] = {}
    for row in rows:
        if not _is_aggregate(row) and dataset_id(row):
            pairs.setdefault(dataset_id(row), set()).add(_row_config(row))
    links: list[tuple[str, str] | None] = []
    for row in rows:
        found = None if _is_aggregate(row) else dataset_id(row)
        if found is None:
            links.append(None)
        elif row.get("dataset_config"):
            links.append((found, str(row["dataset_config"])))
        else:
            prefix = f"{_row_config(row)}-" if len(pairs[found]) > 1 else ""
            links.append((found, f"{prefix}queries"))
    return links


def _prompt_facts(row: Mapping) -> dict[str, str]:
    """The recorded prompts and encoders of a row (``CLIREvaluator`` rows carry them)."""
    from optical_st.evaluation import PROMPT_FIELDS

    return {name: str(row[name]) for name in PROMPT_FIELDS if row.get(name) is not None}


def _prompts_cell(row: Mapping) -> str:
    facts = _prompt_facts(row)
    if "query_prompt" not in facts:
        return "not recorded"
    cell = f"`{json.dumps(facts['query_prompt'])}` / `{json.dumps(facts['document_prompt'])}`"
    others = [
        f"{side}: {facts[f'{side}_encoder']}"
        for side in ("query", "document")
        if facts.get(f"{side}_encoder", "model") != "model"
    ]
    return cell + (f" ({', '.join(others)})" if others else "")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def results_table(rows: Sequence[Mapping]) -> dict:
    """Per-(benchmark, level, direction) table: ``{"columns": [...], "rows": [{"cells": [...]}, ...]}``.

    Cells are ``value`` or ``value [ci_low, ci_high]`` with 4 decimals; ``n`` is the number of queries;
    ``prompts`` is the query / document prompt (and a fixed encoder, if one encoded a side).
    """
    metrics: list[tuple[str, Any]] = []
    groups: dict[tuple, dict] = {}
    for row in rows:
        key_metric = (str(row["metric"]), row["k"])
        if key_metric not in metrics:
            metrics.append(key_metric)
        group = (row["benchmark"], row.get("level") or "", row["query_language"], row["document_language"])
        entry = groups.setdefault(group, {"n": row.get("n_queries"), "cells": {}, "prompts": ""})
        entry["cells"][key_metric] = row
        if not _is_aggregate(row):
            entry["prompts"] = _prompts_cell(row)
    order = {"recall": 0, "mrr": 1, "ndcg": 2}
    metrics.sort(key=lambda m: (order.get(m[0].lower(), 9), m[0], int(m[1]) if str(m[1]).isdigit() else 0))
    table_rows = []
    for (benchmark, level, query, document), group in groups.items():
        cells = []
        for metric in metrics:
            row = group["cells"].get(metric)
            if row is None:
                cells.append("")
            elif row.get("ci_low") is not None and row.get("ci_high") is not None:
                cells.append(f"{_fmt(row['value'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]")
            else:
                cells.append(_fmt(row["value"]))
        first = next(iter(group["cells"].values()))
        if _is_aggregate(first):
            query_label = "macro average"
            count = first.get("n_benchmarks")
            document_label = f"over {count} benchmark{'' if count == 1 else 's'}" if count else ""
        else:
            query_label, document_label = _language_label(query), _language_label(document)
        table_rows.append(
            {
                "benchmark": benchmark,
                "level": level,
                "query": query_label,
                "document": document_label,
                "n": group["n"] if group["n"] is not None else "",
                "prompts": group["prompts"],
                "cells": cells,
            }
        )
    return {"columns": [_metric_label(*m) for m in metrics], "rows": table_rows}


def results_to_eval_results(
    rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None, source_url: str | None = None
):
    """``huggingface_hub.EvalResult`` per row with a Hub dataset (:func:`dataset_links`), for ``model-index``.

    ``dataset.type`` is the Hub dataset id and ``dataset.config`` the config its queries load from;
    each metric's ``args`` record the prompts and the encoder of each side. Rows without a Hub
    dataset (and macro averages) are left out: they stay in the card's table.
    """
    from huggingface_hub import EvalResult

    results = []
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        if link is None:
            continue
        level = f", {row['level']}" if row.get("level") else ""
        results.append(
            EvalResult(
                task_type="retrieval",
                task_name="Cross-Lingual Information Retrieval",
                dataset_type=link[0],
                dataset_name=f"{row['benchmark']} ({row['query_language']} -> {row['document_language']}{level})",
                dataset_config=link[1],
                dataset_split=str(row.get("split") or "test"),
                metric_type=_metric_type(row["metric"], row["k"]),
                metric_name=_metric_label(row["metric"], row["k"]),
                metric_value=round(float(row["value"]), 6),
                metric_args=_prompt_facts(row) or None,
                source_name="optical-st CLIREvaluator" if source_url else None,
                source_url=source_url,
            )
        )
    return results


def results_to_eval_result_entries(
    rows: Sequence[Mapping],
    benchmark_ids: Mapping[str, str] | None = None,
    *,
    metric: str = "recall",
    k: int = 10,
    date: str | None = None,
    source_url: str | None = None,
):
    """Entries of the Hub's newer ``.eval_results/*.yaml`` format (``huggingface_hub.EvalResultEntry``).

    That format holds one value per (benchmark dataset on the Hub, task), so only rows with a Hub
    dataset (:func:`dataset_links`) and the headline ``metric@k`` are kept; ``task_id`` is
    ``"{query}-{document}"``, the task ids that :func:`push_benchmark` declares in the dataset's
    ``eval.yaml``; ``notes`` hold the interval, the query count, the level and the prompts.
    """
    from huggingface_hub import EvalResultEntry

    entries = []
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        if link is None or str(row["metric"]).lower() != metric or str(row["k"]) != str(k):
            continue
        dataset_id = link[0]
        notes = _metric_label(row["metric"], row["k"])
        if row.get("ci_low") is not None and row.get("ci_high") is not None:
            notes += f", 95% CI [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        if row.get("n_queries") is not None:
            notes += f", {row['n_queries']} queries"
        if row.get("level"):
            notes += f", {row['level']} level"
        if _prompt_facts(row):
            notes += f", prompts (query / document) {_prompts_cell(row)}"
        entries.append(
            EvalResultEntry(
                dataset_id=dataset_id,
                task_id=_row_config(row),
                value=round(float(row["value"]), 6),
                date=date,
                source_url=source_url,
                source_name="optical-st" if source_url else None,
                notes=notes,
            )
        )
    return entries


def reproduction_snippet(
    model_id: str, rows: Sequence[Mapping], benchmark_ids: Mapping[str, str] | None = None
) -> str | None:
    """A Python block that recomputes the card's recall@k with plain sentence-transformers and datasets.

    One task per Hub dataset config (:func:`dataset_links`) with the prompts and encoders recorded in
    the rows; the rows' numbers are what it prints. ``None`` when no row has a Hub dataset and prompts.
    """
    recall_ks = sorted({int(r["k"]) for r in rows if str(r["metric"]).lower() == "recall"})
    k = 10 if 10 in recall_ks else (recall_ks[-1] if recall_ks else 10)
    tasks: dict[tuple, None] = {}
    for row, link in zip(rows, dataset_links(rows, benchmark_ids), strict=True):
        facts = _prompt_facts(row)
        if link is None or "query_prompt" not in facts:
            continue
        encoders = (facts.get("query_encoder", "model"), facts.get("document_encoder", "model"))
        if any(e != "model" and not _hub_id_form(e) for e in encoders):
            continue  # a side encoded by a local model cannot be reproduced from the Hub
        prefix = link[1][: -len("queries")] if link[1].endswith("queries") else f"{link[1]}-"
        tasks[(link[0], prefix, facts["query_prompt"], facts["document_prompt"], *encoders)] = None
    if not tasks:
        return None
    loads = [f'models = {{"model": SentenceTransformer({json.dumps(model_id)})}}']
    for name in dict.fromkeys(e for task in tasks for e in task[4:] if e != "model"):
        loads.append(f"models[{json.dumps(name)}] = SentenceTransformer({json.dumps(name)})")
    task_lines = [f"    {json.dumps(list(task), ensure_ascii=False)}," for task in tasks]
    return "\n".join(
        [
            "```python",
            "from collections import defaultdict",
            "",
            "from datasets import load_dataset",
            "from sentence_transformers import SentenceTransformer",
            "",
            *loads,
            "# Hub dataset, config prefix, query prompt, document prompt, query encoder, document encoder",
            "tasks = [",
            *task_lines,
            "]",
            "for dataset_id, prefix, query_prompt, document_prompt, query_model, document_model in tasks:",
            '    queries = load_dataset(dataset_id, prefix + "queries", split="test")',
            '    corpus = load_dataset(dataset_id, prefix + "corpus", split="test")',
            "    relevant = defaultdict(set)",
            '    for row in load_dataset(dataset_id, prefix + "qrels", split="test"):',
            '        if row["score"] > 0:',
            '            relevant[row["query-id"]].add(row["corpus-id"])',
            '    query_embeddings = models[query_model].encode(queries["text"], prompt=query_prompt)',
            '    document_embeddings = models[document_model].encode(corpus["text"], prompt=document_prompt)',
            '    scores = models["model"].similarity(query_embeddings, document_embeddings)',
            f"    top = scores.topk({k}, dim=1).indices.tolist()",
            "    hits = [",
            '        len(relevant[query] & {corpus["_id"][i] for i in ranked}) / len(relevant[query])',
            '        for query, ranked in zip(queries["_id"], top)',
            "    ]",
            f'    print(f"{{dataset_id}} {{prefix}}queries recall@{k} = {{sum(hits) / len(hits):.4f}}")',
            "```",
        ]
    )


# model card ----------------------------------------------------------------------------------------
def _model_card_data_class():
    """Build the subclass once, lazily: importing sentence-transformers costs seconds (keeps the CLI fast).

    It is published as ``optical_st.hub.OpticalModelCardData`` (module ``__getattr__``), so card data
    attached to a model stays picklable and importable by name.
    """
    if "OpticalModelCardData" in globals():
        return globals()["OpticalModelCardData"]
    from sentence_transformers import SentenceTransformerModelCardData

    @dataclass
    class OpticalModelCardData(SentenceTransformerModelCardData):
        """sentence-transformers' card data plus the OPTICAL training and CLIR evaluation facts.

        Everything sentence-transformers knows (architecture, usage snippet, hyperparameters,
        dataset and loss details recorded by its trainer, citations) is kept; this adds the
        teacher, the OT loss settings, the training bitext with licences/citations and the CLIR
        rows, and renders ``hub_cards/model_card.md`` instead of the stock template.
        """

        teacher: str | None = None
        teacher_note: str | None = None
        base_model_note: str | None = None
        loss_name: str | None = None
        loss_config: dict[str, Any] = field(default_factory=dict)
        training_bitext: list[dict[str, Any]] = field(default_factory=list)
        training_languages: list[str] = field(default_factory=list)
        extra_hyperparameters: dict[str, Any] = field(default_factory=dict)
        clir_results: list[dict[str, Any]] = field(default_factory=list)
        benchmark_ids: dict[str, str] = field(default_factory=dict)
        template_path: Path = field(
            default_factory=lambda: cards_dir() / "model_card.md", init=False, repr=False
        )

        def to_dict(self) -> dict[str, Any]:
            data = super().to_dict()  # cached by sentence-transformers for to_yaml(): update in place
            from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

            ours = results_to_eval_results(self.clir_results, self.benchmark_ids)
            if ours:
                existing = data.get("model-index")
                previous = model_index_to_eval_results(existing)[1] if existing else []
                data["model-index"] = eval_results_to_model_index(self.model_name, previous + ours)
                metrics = list(data.get("metrics") or [])
                data["metrics"] = metrics + [
                    m for m in dict.fromkeys(r.metric_type for r in ours) if m not in metrics
                ]
            data["clir_table"] = results_table(self.clir_results) if self.clir_results else None
            data["reproduction_snippet"] = reproduction_snippet(
                self.model_id or "path/to/model", self.clir_results, self.benchmark_ids
            )
            data["training_language_labels"] = [_language_label(code) for code in self.training_languages]
            data["optical_citation"] = OPTICAL_CITATION
            data["bitext_citations"] = {
                item["name"]: item["citation"] for item in self.training_bitext if item.get("citation")
            }
            return data

    OpticalModelCardData.__qualname__ = "OpticalModelCardData"
    globals()["OpticalModelCardData"] = OpticalModelCardData
    return OpticalModelCardData


def __getattr__(name: str) -> Any:
    if name == "OpticalModelCardData":
        return _model_card_data_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _card_languages(training_info: Mapping, rows: Sequence[Mapping]) -> tuple[list[str], list[str]]:
    """(FLORES codes trained on, ISO codes for the YAML ``language:`` list incl. English)."""
    trained = []
    for code in _as_list(training_info.get("languages")) + [
        b.get("language") for b in _as_list(training_info.get("bitext")) if isinstance(b, Mapping)
    ]:
        if code:
            flores = get_language(code).code
            if flores not in trained:
                trained.append(flores)
    codes = [ENGLISH, *trained]
    for row in rows:
        codes += [row["query_language"], row["document_language"]]
    iso = []
    for code in codes:
        short = _iso(code)
        if short and short not in iso:
            iso.append(short)
    return trained, iso


def _looks_like_hub_id(value: Any) -> bool:
    """``owner/name`` that is not also a local path (``runs/x`` is a folder, not a Hub id)."""
    return _hub_id_form(value) and not Path(value).exists()


def _with_source_facts(bitext: Mapping[str, Any]) -> dict[str, Any]:
    """Fill licence, citation and URL of a known source (``optical_st.data.SOURCES``) where missing."""
    entry = dict(bitext)
    from optical_st.sources import SOURCES

    known = SOURCES.get(str(entry.get("source") or entry.get("name") or ""))
    if known:
        entry["license"] = entry.get("license") or entry.get("licence") or known.get("licence")
        entry["citation"] = entry.get("citation") or known.get("citation")
        entry["url"] = entry.get("url") or known.get("url")
        entry["name"] = known.get("name") or entry.get("name")
    return entry


def _hub_model_facts(value: Any) -> dict[str, str]:
    """Hub id (and licence, note) behind a model named in a run record: a Hub id, or a local folder's provenance."""
    if _looks_like_hub_id(value):
        return {"base_model": value}
    if isinstance(value, str | Path) and Path(value).expanduser().is_dir():
        from optical_st.pretrained import model_provenance

        return model_provenance(value)
    return {}


def build_model_card_data(
    model: SentenceTransformer,
    *,
    repo_id: str | None = None,
    evaluation_results: Any = None,
    training_info: Mapping[str, Any] | None = None,
    benchmark_ids: Mapping[str, str] | None = None,
    license: str | None = None,
    existing_card: Mapping[str, Any] | None = None,
):
    """Attach OPTICAL card data to ``model`` (keeping what sentence-transformers recorded) and return it.

    Filled from the run record (``training_info``, see :func:`save_run_info`) and the models'
    provenance (:func:`optical_st.pretrained.model_provenance`): ``base_model`` and ``teacher`` as Hub
    ids (a local folder such as the offline e5 build is resolved to the Hub model it derives from,
    never printed as a path), ``license`` (explicit, else the run record's, else the base model's),
    ``datasets`` (Hub ids of training bitext and benchmarks), ``metrics`` and ``model-index``.
    ``existing_card`` is the metadata of the card the model folder already has (sentence-transformers'
    trainer card): its tags and widget are kept.

    Raises:
        ValueError: a trained model (``training_info`` names a loss or bitext) whose licence cannot be
            known. Fields that stay unknown otherwise (base model, training datasets, results without
            a Hub dataset) are logged as warnings.
    """
    info = _scrub(dict(training_info or {}))
    existing = dict(existing_card or {})
    rows = load_results(evaluation_results)
    trained, iso_languages = _card_languages(info, rows)
    card_class = _model_card_data_class()
    old = model.model_card_data
    new = card_class(local_files_only=True, generate_widget_examples=False)
    for item in fields(old):  # keep everything sentence-transformers' trainer recorded
        if hasattr(new, item.name) and item.name != "template_path":
            setattr(new, item.name, getattr(old, item.name))
    new.local_files_only = True  # the card must render offline; base_model comes from training_info
    new.all_hyperparameters = _scrub(new.all_hyperparameters or {})
    new.non_default_hyperparameters = _scrub(new.non_default_hyperparameters or {})
    new.generate_widget_examples = False
    new.add_tags([tag for tag in _as_list(existing.get("tags")) if isinstance(tag, str)])
    if not new.widget and isinstance(existing.get("widget"), list):
        new.widget = existing["widget"]
    was_trained = bool(info.get("loss") or info.get("bitext"))
    loss = info.get("loss") or {}
    if isinstance(loss, str):
        loss = {"name": loss}
    teacher = _hub_model_facts(info.get("teacher"))
    new.teacher = teacher.get("base_model")
    new.teacher_note = info.get("teacher_note") or teacher.get("note")
    if info.get("teacher") and not new.teacher:
        new.teacher_note = "a local model that is not on the Hub"
        logger.warning(
            "The teacher %r is not a Hub model; the card names it only as a local model.", info["teacher"]
        )
    new.loss_name = loss.get("name")
    new.loss_config = dict(loss.get("config") or {})
    if loss.get("citation") and loss.get("name"):
        new.citations = {**new.citations, loss["name"]: loss["citation"]}
    new.training_bitext = [
        _with_source_facts(b) for b in _as_list(info.get("bitext")) if isinstance(b, Mapping)
    ]
    for bitext in new.training_bitext:
        bitext["license_id"] = license_id(bitext.get("license") or bitext.get("licence"))
        bitext["license"] = bitext.get("license") or bitext.get("licence") or "unknown"
        if bitext.get("language"):
            bitext["language_label"] = _language_label(bitext["language"])
    new.training_languages = trained
    new.extra_hyperparameters = dict(info.get("hyperparameters") or {})
    new.clir_results = rows
    if rows and new.eval_results_dict:
        # The tidy rows supersede the flat metrics CLIREvaluator stored during training (no duplicates).
        new.eval_results_dict = {
            evaluator: metrics
            for evaluator, metrics in new.eval_results_dict.items()
            if type(evaluator).__name__ != "CLIREvaluator"
        }
    new.benchmark_ids = dict(benchmark_ids or info.get("benchmark_ids") or {})
    new.set_language(iso_languages)
    if repo_id:
        new.set_model_id(repo_id)

    # base model and licence: the run record, else the provenance of the folder it names, else the old card
    base = {}
    for candidate in (info.get("base_model"), info.get("student_argument"), existing.get("base_model")):
        base = _hub_model_facts(candidate)
        if base.get("base_model"):
            break
    if base.get("base_model"):
        new.base_model = base["base_model"]
    new.base_model_note = info.get("base_model_note") or base.get("note")
    if was_trained and not new.base_model:
        logger.warning(
            "The card has no base_model: the run record names no Hub model the student was initialised "
            "from (%r). Set training_info['base_model'] to its Hub id.",
            info.get("base_model") or info.get("student_argument"),
        )
    chosen = license or info.get("license") or info.get("base_model_license") or base.get("license")
    chosen = chosen or existing.get("license")
    if chosen:
        # "Apache 2.0" -> "apache-2.0"; an id this module does not know stays as given (the Hub checks it)
        new.set_license(license_id(chosen) or chosen)
        if not (license or info.get("license")):
            logger.info("Licence %r taken from the base model's provenance or the existing card.", chosen)
    elif was_trained:
        raise ValueError(
            "No licence is known for this trained model (neither given nor recorded for its base model "
            f"{new.base_model or 'unknown'}): pass license=... (--license), e.g. the base model's licence."
        )
    else:
        logger.warning("The model card has no license; pass license=... (--license).")
    if new.base_model and not new.model_name:
        new.model_name = f"OPTICAL-distilled {Path(str(new.base_model)).name}"
    new.add_tags(["optical-st", "cross-lingual-retrieval", "optimal-transport", "distillation"])

    datasets = [d for d in _as_list(new.datasets) + _as_list(existing.get("datasets")) if _hub_id_form(d)]
    for bitext in new.training_bitext:
        if _looks_like_hub_id(bitext.get("id")):
            datasets.append(bitext["id"])
    if was_trained and not any(_looks_like_hub_id(b.get("id")) for b in new.training_bitext):
        logger.warning(
            "No training bitext of this model has a Hub dataset id (%s): the card's `datasets` lists only "
            "evaluation benchmarks. Give training_info['bitext'][i]['id'] for bitext that is on the Hub.",
            ", ".join(str(b.get("name")) for b in new.training_bitext) or "none recorded",
        )
    links = dataset_links(rows, new.benchmark_ids)
    datasets += [link[0] for link in links if link] + list(new.benchmark_ids.values())
    new.datasets = list(dict.fromkeys(datasets))
    unlinked = sorted(
        {
            str(r["benchmark"])
            for r, link in zip(rows, links, strict=True)
            if link is None and not _is_aggregate(r)
        }
    )
    if unlinked:
        logger.warning(
            "Results on %s stay out of model-index and .eval_results: no Hub dataset is known for them. Push the "
            "benchmark (push_benchmark) and pass benchmark_ids (--benchmark-id NAME=user/dataset), or "
            "evaluate on the benchmark loaded from the Hub.",
            ", ".join(unlinked),
        )
    model.model_card_data = new
    new.register_model(model)
    return new


def render_model_card(data: SentenceTransformerModelCardData) -> str:
    """The model card text (``README.md``) for card data from :func:`build_model_card_data`.

    Raises instead of returning a partial card (:func:`validate_card`).
    """
    from huggingface_hub import ModelCard

    card = ModelCard.from_template(card_data=data, template_path=str(data.template_path), hf_emoji="🤗")
    text = str(card)
    validate_card(text, "model")
    return text


def save_run_info(
    directory: str | Path,
    training_info: Mapping[str, Any] | None = None,
    evaluation_results: Any = None,
    benchmark_ids: Mapping[str, str] | None = None,
) -> Path:
    """Write ``optical_st_run.json`` (training facts, CLIR rows, benchmark Hub ids) next to a saved model.

    :func:`push_model` reads it when given that directory, so the card of a run pushed later (or by
    ``optical-st push-model``) has the same training details. Secret-looking keys are dropped.
    """
    path = Path(directory) / RUN_INFO_FILE
    payload = {
        "training_info": _scrub(dict(training_info or {})),
        "evaluation_results": load_results(evaluation_results),
        "benchmark_ids": dict(benchmark_ids or {}),
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def load_run_info(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / RUN_INFO_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}).") from None


# pushing -------------------------------------------------------------------------------------------
def _default_local_dir(repo_id: str) -> Path:
    return Path.cwd() / "optical-st-hub" / repo_id.replace("/", "__")


def _write_files(folder: Path, write: Callable[[Path], Any]) -> list[str]:
    """Run ``write(directory)`` into an empty folder, move the result into ``folder``; return what it wrote.

    A local folder may hold other files (an earlier export, notes): only the paths returned here are
    uploaded, so nothing else in it is published.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".optical-st-staging-", dir=folder))
    try:
        write(staging)
        written = []
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                relative = path.relative_to(staging)
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                path.replace(folder / relative)
                written.append(relative.as_posix())
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_repo_id(repo_id: str) -> None:
    if not _hub_id_form(repo_id):
        raise ValueError(f"repo_id must look like 'user/name', got {repo_id!r}.")


def _upload(
    folder: Path,
    repo_id: str,
    repo_type: str,
    *,
    token: str | None,
    private: bool,
    exist_ok: bool,
    endpoint: str | None,
    commit_message: str,
    card_text: str,
    files: Sequence[str] | None = None,
) -> str:
    """Upload ``folder`` in one commit: only ``files`` (paths relative to it) when given, else all of it."""
    from huggingface_hub import HfApi
    from huggingface_hub.constants import is_offline_mode

    url = _endpoint(endpoint)
    if is_offline_mode():
        raise HubConnectionError(
            f"Cannot push {repo_id}: HF_HUB_OFFLINE=1 is set. The files are in {folder}."
        )
    try:
        token = resolve_token(token)
    except HubAuthenticationError as error:
        raise HubAuthenticationError(f"{error} Nothing was lost: the files are in {folder}.") from None
    if token in card_text:  # defence in depth: a token must never be published
        raise HubError(
            f"Refusing to push: the card in {folder} contains the token. Remove it from the metadata."
        )
    api = HfApi(endpoint=url, token=token)
    with _hub_errors(f"create {repo_type} repository {repo_id}", token, folder, url):
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
    with _hub_errors(f"upload {folder} to {repo_id}", token, folder, url):
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=commit_message,
            allow_patterns=None if files is None else list(files),
            ignore_patterns=["checkpoint-*", "*.partial", "**/__pycache__/**"],
        )
    logger.info("Pushed %s to %s (%s)", folder, repo_id, commit.commit_url)
    return str(commit.commit_url)


def push_model(
    model_or_dir: SentenceTransformer | str | Path,
    repo_id: str,
    *,
    evaluation_results: Any = None,
    training_info: Mapping[str, Any] | None = None,
    benchmark_ids: Mapping[str, str] | None = None,
    license: str | None = None,
    private: bool = False,
    token: str | None = None,
    local_dir: str | Path | None = None,
    exist_ok: bool = False,
    endpoint: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
) -> str:
    """Save a model with its OPTICAL card locally, then push that folder to the Hub in one commit.

    Args:
        model_or_dir: a ``SentenceTransformer`` or the directory of a saved one (e.g. ``optical-st
            train --output``). A directory's ``optical_st_run.json`` supplies ``training_info`` and
            ``evaluation_results`` when they are not given.
        repo_id: ``"user/name"`` of the model repository.
        evaluation_results: ``CLIREvaluator`` (its ``.results``), a list of its tidy rows, or a JSON
            file of them; rendered as the per-language/direction table, ``model-index`` and
            ``.eval_results/optical-st.yaml`` (rows whose benchmark is a Hub dataset).
        training_info: ``base_model``, ``teacher``, ``loss`` (``{"name", "config", "citation"}``),
            ``languages``, ``bitext`` (list of ``{"name", "id", "language", "pairs", "license",
            "citation", "url"}``), ``hyperparameters``, ``license``. Secret-looking keys are dropped.
        benchmark_ids: benchmark name -> Hub dataset id, for result metadata that links to the data.
        license: licence id of the model (default: ``training_info["license"]``, else none given).
        private: create the repository private.
        token: Hub token; default ``HF_TOKEN`` or the ``hf auth login`` cache.
        local_dir: folder written before the upload: default the model directory itself when
            ``model_or_dir`` is one (its ``README.md`` is regenerated; with ``dry_run`` nothing is
            written there), else ``./optical-st-hub/<user>__<name>``. Only the files this call writes
            into it are uploaded (the model directory itself is uploaded whole).
        exist_ok: add a commit to an existing repository instead of failing.
        endpoint: Hub URL (default ``HF_ENDPOINT`` or huggingface.co).
        commit_message: default ``"Upload OPTICAL-distilled model with optical-st"``.
        dry_run: write the local folder only (no token, no network) and return its path.

    Returns:
        The commit URL (with ``dry_run``, the local folder).

    Raises:
        HubAuthenticationError, HubRepoExistsError, HubConnectionError, HubError: the message says what
            to do and where the local copy is; ValueError for a bad ``repo_id`` or evaluation row.
    """
    _check_repo_id(repo_id)
    if isinstance(model_or_dir, str | Path) and not Path(model_or_dir).is_dir():
        raise FileNotFoundError(f"Model directory not found: {model_or_dir}")
    from sentence_transformers import SentenceTransformer

    existing_card = None
    if isinstance(model_or_dir, str | Path):
        source = Path(model_or_dir)
        run = load_run_info(source)
        if (source / "README.md").is_file():  # sentence-transformers' trainer card: keep its tags and widget
            with contextlib.suppress(ValueError):
                existing_card = _yaml_front_matter((source / "README.md").read_text(encoding="utf-8"))
        training_info = training_info if training_info is not None else run.get("training_info")
        evaluation_results = (
            evaluation_results if evaluation_results is not None else run.get("evaluation_results")
        )
        benchmark_ids = benchmark_ids or run.get("benchmark_ids")
        model = SentenceTransformer(str(source), device="cpu")
        # a dry run writes nothing into the model folder: its card goes to a copy
        folder = (
            Path(local_dir) if local_dir is not None else _default_local_dir(repo_id) if dry_run else source
        )
    else:
        model = model_or_dir
        folder = Path(local_dir) if local_dir is not None else _default_local_dir(repo_id)
    data = build_model_card_data(
        model,
        repo_id=repo_id,
        evaluation_results=evaluation_results,
        training_info=training_info,
        benchmark_ids=benchmark_ids,
        license=license,
        existing_card=existing_card,
    )
    text = render_model_card(data)
    folder.mkdir(parents=True, exist_ok=True)
    from optical_st.search import complete_document_prompt

    # encode_document (and mteb) must add the document prompt optical-st evaluated with.
    prompts_changed = complete_document_prompt(model)
    same_folder = isinstance(model_or_dir, str | Path) and folder.resolve() == Path(model_or_dir).resolve()
    files: list[str] | None = None  # None: the model directory itself, all of it
    if not same_folder:
        files = _write_files(folder, lambda directory: model.save(str(directory), create_model_card=False))
        files += ["README.md", RUN_INFO_FILE]
    elif prompts_changed:
        model.save(str(folder), create_model_card=False)
    (folder / "README.md").write_text(text, encoding="utf-8")
    entries = results_to_eval_result_entries(
        data.clir_results,
        data.benchmark_ids,
        date=_dt.date.today().isoformat(),
        source_url=f"{_endpoint(endpoint)}/{repo_id}",
    )
    eval_file = folder / EVAL_RESULTS_FILE
    if entries:
        from huggingface_hub import eval_result_entries_to_yaml

        eval_file.parent.mkdir(exist_ok=True)
        eval_file.write_text(
            yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8"
        )
        if files is not None:
            files.append(EVAL_RESULTS_FILE)
    elif eval_file.is_file():
        eval_file.unlink()  # stale results of an earlier push must not be re-published
    save_run_info(folder, training_info, data.clir_results, data.benchmark_ids)
    if dry_run:
        return str(folder)
    return _upload(
        folder,
        repo_id,
        "model",
        token=token,
        private=private,
        exist_ok=exist_ok,
        endpoint=endpoint,
        commit_message=commit_message or "Upload OPTICAL-distilled model with optical-st",
        card_text=text,
        files=files,
    )


# benchmarks ----------------------------------------------------------------------------------------
@dataclass
class _BenchmarkLayout:
    benchmark: Any
    prefix: str  # "" for a single benchmark, else the folder/config prefix "{query}-{document}"
    files: dict[str, list[str]]
    counts: dict[str, int]


def _benchmark_meta(benchmark: Any, *names: str) -> Any:
    metadata = getattr(benchmark, "metadata", None) or {}
    for name in names:
        if metadata.get(name):
            return metadata[name]
    return None


def _benchmark_key(benchmark: Any) -> str:
    return f"{benchmark.query_language}-{benchmark.document_language}"


def _collect_parquet(files: Sequence[str], part: str) -> list[str]:
    """The parquet files of config ``part`` among ``files`` (``part/**.parquet`` or ``part*.parquet``)."""
    return [
        path
        for path in files
        if path.endswith(".parquet")
        and (path.startswith(f"{part}/") or (path.startswith(part) and "/" not in path))
    ]


def _dataset_license(benchmarks: Sequence[Any], license: str | None) -> tuple[str, str, list[dict]]:
    """(Hub licence id, sentence for the card, per-source rows). Share-alike wins when present."""
    sources = []
    for benchmark in benchmarks:
        licences = [
            part.strip() for part in str(_benchmark_meta(benchmark, "license", "licence") or "").split(";")
        ]
        names = _benchmark_meta(benchmark, "source_name", "source", "sources") or benchmark.name
        names = [n.strip() for n in (names.split(";") if isinstance(names, str) else names) if str(n).strip()]
        for position, name in enumerate(names):
            # data.py joins one licence per source in the same order; one licence may cover all.
            licence = licences[position] if len(licences) == len(names) else "; ".join(licences)
            entry = {"name": str(name), "license": licence or None, "license_id": license_id(licence)}
            if entry not in sources:
                sources.append(entry)
    if license:
        return license, f"Released under `{license}` as given by the publisher.", sources
    unknown = [s["name"] for s in sources if not s["license_id"]]
    if unknown:
        raise ValueError(
            f"No known licence for benchmark source(s) {', '.join(sorted(set(unknown)))}: set "
            "benchmark.metadata['license'] (e.g. 'CC BY-SA 4.0') or pass license=... (--license)."
        )
    ids = {s["license_id"] for s in sources}
    share_alike = sorted(i for i in ids if "-sa-" in i)
    if share_alike:
        chosen = share_alike[-1]
        sentence = (
            f"Derived from share-alike data, so this dataset is released under `{chosen}` (CC BY-SA "
            "requires derivatives to keep the same licence); attribute every source below."
        )
        return chosen, sentence, sources
    if len(ids) == 1:
        chosen = ids.pop()
        return chosen, f"All sources are `{chosen}`; this dataset keeps that licence.", sources
    raise ValueError(
        f"The benchmarks mix licences {sorted(ids)} with no share-alike rule to combine them: push them "
        "separately or pass license=... after checking compatibility."
    )


def render_dataset_card(
    layouts: Sequence[_BenchmarkLayout],
    repo_id: str,
    *,
    license: str | None = None,
    pretty_name: str | None = None,
) -> str:
    """The dataset card (``README.md``) with ``configs`` for corpus/queries/qrels per language pair."""
    import jinja2

    benchmarks = [layout.benchmark for layout in layouts]
    chosen, license_sentence, sources = _dataset_license(benchmarks, license)
    configs, pairs, iso, citations, total = [], [], [], [], 0
    for layout in layouts:
        benchmark = layout.benchmark
        for part in BENCHMARK_PARTS:
            name = f"{layout.prefix}-{part}" if layout.prefix else part
            configs.append(
                {"config_name": name, "data_files": [{"split": "test", "path": layout.files[part]}]}
            )
        for code in (benchmark.query_language, benchmark.document_language):
            short = _iso(code)
            if short and short not in iso:
                iso.append(short)
        citation = _benchmark_meta(benchmark, "citation")
        for item in _as_list(citation):
            if item and str(item).strip() not in citations:
                citations.append(str(item).strip())
        total += sum(layout.counts.values())
        pairs.append(
            {
                "name": benchmark.name,
                "prefix": layout.prefix,
                "query": _language_label(benchmark.query_language),
                "document": _language_label(benchmark.document_language),
                "level": _benchmark_meta(benchmark, "level") or "",
                **layout.counts,
                "url": next(iter(str(_benchmark_meta(benchmark, "url", "source_url") or "").split()), ""),
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
        single=len(layouts) == 1,
        **metadata,
    )
    validate_card(text, "dataset")
    return text


def _eval_yaml(layouts: Sequence[_BenchmarkLayout], pretty_name: str) -> dict:
    tasks = []
    for layout in layouts:
        config = f"{layout.prefix}-queries" if layout.prefix else "queries"
        tasks.append({"id": _benchmark_key(layout.benchmark), "config": config, "split": "test"})
    return {
        "name": pretty_name,
        "description": "Cross-lingual retrieval (queries -> corpus, relevance in qrels); headline metric recall@10.",
        "evaluation_framework": "optical-st",
        "tasks": tasks,
    }


def push_benchmark(
    benchmark: CLIRBenchmark | Iterable[CLIRBenchmark],
    repo_id: str,
    *,
    license: str | None = None,
    pretty_name: str | None = None,
    private: bool = False,
    token: str | None = None,
    local_dir: str | Path | None = None,
    exist_ok: bool = False,
    endpoint: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
) -> str:
    """Save a CLIR benchmark (or several language pairs) as a Hub dataset with a card, then push it.

    The repository holds exactly what ``CLIRBenchmark.save`` writes (parquet ``corpus``, ``queries``,
    ``qrels`` and ``metadata.json``; one sub-folder ``{query}-{document}`` per pair when several are
    given), a ``README.md`` whose ``configs`` make ``load_dataset(repo_id, "corpus")`` (or
    ``"{query}-{document}-corpus"``) work, and an ``eval.yaml`` declaring one task per pair.

    Args:
        benchmark: one ``CLIRBenchmark`` or an iterable of them (distinct language pairs).
        repo_id: ``"user/name"`` of the dataset repository.
        license: Hub licence id overriding the one derived from the benchmarks' metadata (CC BY-SA
            sources make the dataset CC BY-SA); required when a source's licence is unknown.
        pretty_name: card title (default the benchmark name).
        private, token, exist_ok, endpoint, commit_message, dry_run: as in :func:`push_model`.
        local_dir: folder written before the upload (default ``./optical-st-hub/<user>__<name>``).

    Returns:
        The commit URL (with ``dry_run``, the local folder).
    """
    _check_repo_id(repo_id)
    benchmarks = [benchmark] if hasattr(benchmark, "corpus") else list(benchmark)
    if not benchmarks:
        raise ValueError("No benchmark to push.")
    keys = [_benchmark_key(b) for b in benchmarks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"Benchmarks must have distinct language pairs, got {keys}.")
    folder = Path(local_dir) if local_dir is not None else _default_local_dir(repo_id)
    folder.mkdir(parents=True, exist_ok=True)
    layouts, written = [], ["README.md", "eval.yaml"]
    for item, key in zip(benchmarks, keys, strict=True):
        prefix = "" if len(benchmarks) == 1 else key
        target = folder / prefix if prefix else folder
        saved = _write_files(target, item.save)  # only these are listed in the card and uploaded
        written += [f"{prefix}/{path}" if prefix else path for path in saved]
        files, counts = {}, {}
        for part in BENCHMARK_PARTS:
            found = _collect_parquet(saved, part)
            if not found:
                raise HubError(f"{item.name}: save() wrote no parquet file for {part!r} under {target}.")
            files[part] = [f"{prefix}/{path}" if prefix else path for path in found]
            counts[part] = len(getattr(item, part))
        layouts.append(_BenchmarkLayout(item, prefix, files, counts))
    text = render_dataset_card(layouts, repo_id, license=license, pretty_name=pretty_name)
    (folder / "README.md").write_text(text, encoding="utf-8")
    title = _yaml_front_matter(text)["pretty_name"]
    (folder / "eval.yaml").write_text(
        yaml.safe_dump(_eval_yaml(layouts, title), sort_keys=False), encoding="utf-8"
    )
    if dry_run:
        return str(folder)
    return _upload(
        folder,
        repo_id,
        "dataset",
        token=token,
        private=private,
        exist_ok=exist_ok,
        endpoint=endpoint,
        commit_message=commit_message or "Upload CLIR benchmark with optical-st",
        card_text=text,
        files=written,
    )
