"""Pushing: write the exact repository content to a local folder first, then upload it in one commit."""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from optical_st.data import CLIRBenchmark


from optical_st._atomic import write_text
from optical_st._weights import check_finite_weights
from optical_st.hub._cards import yaml_front_matter
from optical_st.hub._client import default_local_dir, endpoint_url, upload_folder, write_files
from optical_st.hub._dataset_card import (
    BENCHMARK_PARTS,
    BenchmarkLayout,
    benchmark_key,
    eval_yaml,
    render_dataset_card,
)
from optical_st.hub._errors import HubError
from optical_st.hub._ids import check_repo_id
from optical_st.hub._model_card import build_model_card_data, render_model_card
from optical_st.hub._results import results_to_eval_result_entries
from optical_st.hub._run_info import RUN_INFO_FILE, TrainingInfo, load_run_info, save_run_info

EVAL_RESULTS_FILE = ".eval_results/optical-st.yaml"


def push_model(
    model_or_dir: SentenceTransformer | str | Path,
    repo_id: str,
    *,
    evaluation_results: Any = None,
    training_info: TrainingInfo | Mapping[str, Any] | None = None,
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
    check_repo_id(repo_id)
    if isinstance(model_or_dir, str | Path) and not Path(model_or_dir).is_dir():
        raise FileNotFoundError(f"Model directory not found: {model_or_dir}")
    model, folder, recorded, existing_card = _model_and_folder(model_or_dir, repo_id, local_dir, dry_run)
    check_finite_weights(model, str(model_or_dir) if isinstance(model_or_dir, str | Path) else "the model")
    training_info = training_info if training_info is not None else recorded.get("training_info")
    evaluation_results = (
        evaluation_results if evaluation_results is not None else recorded.get("evaluation_results")
    )
    data = build_model_card_data(
        model,
        repo_id=repo_id,
        evaluation_results=evaluation_results,
        training_info=training_info,
        benchmark_ids=benchmark_ids or recorded.get("benchmark_ids"),
        license=license,
        existing_card=existing_card,
    )
    text = render_model_card(data)
    files = _write_model_folder(model, model_or_dir, folder, text)
    if _write_eval_results(folder, data, repo_id, endpoint) and files is not None:
        files.append(EVAL_RESULTS_FILE)
    save_run_info(folder, training_info, data.clir_results, data.benchmark_ids)
    if dry_run:
        return str(folder)
    return upload_folder(
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


def _model_and_folder(
    model_or_dir: SentenceTransformer | str | Path, repo_id: str, local_dir: str | Path | None, dry_run: bool
) -> tuple[SentenceTransformer, Path, dict[str, Any], dict | None]:
    """``(model, folder to write, the model directory's run record, its existing card metadata)``."""
    if not isinstance(model_or_dir, str | Path):
        return (
            model_or_dir,
            Path(local_dir) if local_dir is not None else default_local_dir(repo_id),
            {},
            None,
        )
    from sentence_transformers import SentenceTransformer

    source = Path(model_or_dir)
    existing_card = None
    if (source / "README.md").is_file():  # sentence-transformers' trainer card: keep its tags and widget
        with contextlib.suppress(ValueError):
            existing_card = yaml_front_matter((source / "README.md").read_text(encoding="utf-8"))
    # a dry run writes nothing into the model folder: its card goes to a copy
    folder = Path(local_dir) if local_dir is not None else default_local_dir(repo_id) if dry_run else source
    return SentenceTransformer(str(source), device="cpu"), folder, load_run_info(source), existing_card


def _write_model_folder(
    model: SentenceTransformer, model_or_dir: SentenceTransformer | str | Path, folder: Path, card_text: str
) -> list[str] | None:
    """The model and its card in ``folder``; the files to upload (``None``: the model directory, all of it)."""
    from optical_st.search import complete_document_prompt

    folder.mkdir(parents=True, exist_ok=True)
    # encode_document (and mteb) must add the document prompt optical-st evaluated with.
    prompts_changed = complete_document_prompt(model)
    same_folder = isinstance(model_or_dir, str | Path) and folder.resolve() == Path(model_or_dir).resolve()
    files: list[str] | None = None
    if not same_folder:
        files = write_files(folder, lambda directory: model.save(str(directory), create_model_card=False))
        files += ["README.md", RUN_INFO_FILE]
    elif prompts_changed:
        model.save(str(folder), create_model_card=False)
    write_text(folder / "README.md", card_text)
    return files


def _write_eval_results(folder: Path, data: Any, repo_id: str, endpoint: str | None) -> bool:
    """``.eval_results/optical-st.yaml`` from the card's rows; whether there is one (a stale one is removed)."""
    entries = results_to_eval_result_entries(
        data.clir_results,
        data.benchmark_ids,
        date=_dt.date.today().isoformat(),
        source_url=f"{endpoint_url(endpoint)}/{repo_id}",
    )
    eval_file = folder / EVAL_RESULTS_FILE
    if not entries:
        eval_file.unlink(missing_ok=True)  # stale results of an earlier push must not be re-published
        return False
    from huggingface_hub import eval_result_entries_to_yaml

    eval_file.parent.mkdir(exist_ok=True)
    eval_file.write_text(
        yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8"
    )
    return True


def _collect_parquet(files: Sequence[str], part: str) -> list[str]:
    """The parquet files of config ``part`` among ``files`` (``part/**.parquet`` or ``part*.parquet``)."""
    return [
        path
        for path in files
        if path.endswith(".parquet")
        and (path.startswith(f"{part}/") or (path.startswith(part) and "/" not in path))
    ]


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
    check_repo_id(repo_id)
    benchmarks = [benchmark] if hasattr(benchmark, "corpus") else list(benchmark)
    if not benchmarks:
        raise ValueError("No benchmark to push.")
    keys = [benchmark_key(b) for b in benchmarks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"Benchmarks must have distinct language pairs, got {keys}.")
    folder = Path(local_dir) if local_dir is not None else default_local_dir(repo_id)
    folder.mkdir(parents=True, exist_ok=True)
    layouts, written = [], ["README.md", "eval.yaml"]
    for item, key in zip(benchmarks, keys, strict=True):
        prefix = "" if len(benchmarks) == 1 else key
        target = folder / prefix if prefix else folder
        saved = write_files(target, item.save)  # only these are listed in the card and uploaded
        written += [f"{prefix}/{path}" if prefix else path for path in saved]
        files, counts = {}, {}
        for part in BENCHMARK_PARTS:
            found = _collect_parquet(saved, part)
            if not found:
                raise HubError(f"{item.name}: save() wrote no parquet file for {part!r} under {target}.")
            files[part] = [f"{prefix}/{path}" if prefix else path for path in found]
            counts[part] = len(getattr(item, part))
        layouts.append(BenchmarkLayout(item, prefix, files, counts))
    text = render_dataset_card(layouts, repo_id, license=license, pretty_name=pretty_name)
    (folder / "README.md").write_text(text, encoding="utf-8")
    title = yaml_front_matter(text)["pretty_name"]
    (folder / "eval.yaml").write_text(
        yaml.safe_dump(eval_yaml(layouts, title), sort_keys=False), encoding="utf-8"
    )
    if dry_run:
        return str(folder)
    return upload_folder(
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
