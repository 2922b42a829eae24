"""The model card: sentence-transformers' card data plus OPTICAL's training facts and CLIR results."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optical_st.languages import ENGLISH, get_language, language_label

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer, SentenceTransformerModelCardData


from optical_st.hub._cards import as_list, cards_dir, iso_code, scrub, validate_card
from optical_st.hub._ids import hub_id_form, looks_like_hub_id
from optical_st.hub._licences import license_id
from optical_st.hub._provenance import model_provenance
from optical_st.hub._results import (
    dataset_links,
    is_aggregate,
    reproduction_snippet,
    results_markdown,
    results_to_eval_results,
)
from optical_st.hub._run_info import TrainingInfo
from optical_st.results import load_rows, writes_tidy_rows
from optical_st.sources import SOURCES

logger = logging.getLogger(__name__)


# model card ----------------------------------------------------------------------------------------
def model_card_data_class():
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
            data["clir_table"] = results_markdown(self.clir_results) if self.clir_results else None
            data["reproduction_snippet"] = reproduction_snippet(
                self.model_id or "path/to/model", self.clir_results, self.benchmark_ids
            )
            data["training_language_labels"] = [
                language_label(code, with_code=True) for code in self.training_languages
            ]
            data["bitext_citations"] = {
                item["name"]: item["citation"] for item in self.training_bitext if item.get("citation")
            }
            romanizers = [item["romanizer"] for item in self.training_bitext if item.get("romanizer")]
            data["romanizer_credits"] = list(
                dict.fromkeys(r["credit"] for r in romanizers if r.get("credit"))
            )
            for romanizer in romanizers:
                if romanizer.get("citation"):
                    data["bitext_citations"][romanizer["library"]] = romanizer["citation"]
            return data

    OpticalModelCardData.__qualname__ = "OpticalModelCardData"
    OpticalModelCardData.__module__ = "optical_st.hub"  # pickled by its public name (the face builds it)
    globals()["OpticalModelCardData"] = OpticalModelCardData
    return OpticalModelCardData


def _card_languages(info: TrainingInfo, rows: Sequence[Mapping]) -> tuple[list[str], list[str]]:
    """(FLORES codes trained on, ISO codes for the YAML ``language:`` list incl. English)."""
    trained = []
    for code in info.languages + [b.get("language") for b in info.bitext]:
        if code:
            flores = get_language(code).code
            if flores not in trained:
                trained.append(flores)
    codes = [ENGLISH, *trained]
    for row in rows:
        codes += [row["query_language"], row["document_language"]]
    iso = []
    for code in codes:
        short = iso_code(code)
        if short and short not in iso:
            iso.append(short)
    return trained, iso


def _with_source_facts(bitext: Mapping[str, Any]) -> dict[str, Any]:
    """Fill licence, citation and URL of a known source (``optical_st.sources.SOURCES``) where missing."""
    entry = dict(bitext)
    known = SOURCES.get(str(entry.get("source") or entry.get("name") or ""))
    if known:
        entry["license"] = entry.get("license") or entry.get("licence") or known.get("licence")
        entry["citation"] = entry.get("citation") or known.get("citation")
        entry["url"] = entry.get("url") or known.get("url")
        entry["name"] = known.get("name") or entry.get("name")
    entry["license_id"] = license_id(entry.get("license") or entry.get("licence"))
    entry["license"] = entry.get("license") or entry.get("licence") or "unknown"
    if entry.get("language"):
        entry["language_label"] = language_label(entry["language"], with_code=True)
    return entry


def _hub_model_facts(value: Any) -> dict[str, str]:
    """Hub id (and licence, note) behind a model named in a run record: a Hub id, or a local folder's provenance."""
    if looks_like_hub_id(value):
        return {"base_model": value}
    if isinstance(value, str | Path) and Path(value).expanduser().is_dir():
        return model_provenance(value)
    return {}


def build_model_card_data(
    model: SentenceTransformer,
    *,
    repo_id: str | None = None,
    evaluation_results: Any = None,
    training_info: TrainingInfo | Mapping[str, Any] | None = None,
    benchmark_ids: Mapping[str, str] | None = None,
    license: str | None = None,
    existing_card: Mapping[str, Any] | None = None,
):
    """Attach OPTICAL card data to ``model`` (keeping what sentence-transformers recorded) and return it.

    Filled from the run record (``training_info``, a :class:`TrainingInfo` or its dict, see
    :func:`save_run_info`) and the models' provenance (:func:`optical_st.hub.model_provenance`):
    ``base_model`` and ``teacher`` as Hub ids (a local folder such as the offline e5 build is resolved to
    the Hub model it derives from, never printed as a path), ``license`` (explicit, else the run
    record's, else the base model's), ``datasets`` (Hub ids of training bitext and benchmarks),
    ``metrics`` and ``model-index``. ``existing_card`` is the metadata of the card the model folder
    already has (sentence-transformers' trainer card): its tags and widget are kept.

    Raises:
        ValueError: a trained model (``training_info`` names a loss or bitext) whose licence cannot be
            known. Fields that stay unknown otherwise (base model, training datasets, results without
            a Hub dataset) are logged as warnings.
    """
    info = TrainingInfo.of(training_info)
    existing = dict(existing_card or {})
    rows = load_rows(evaluation_results)
    new = _card_data_like(model.model_card_data, existing)
    _describe_training(new, info)
    new.clir_results = rows
    if rows and new.eval_results_dict:
        # The tidy rows supersede the flat metrics CLIREvaluator stored during training (no duplicates).
        new.eval_results_dict = {
            evaluator: metrics
            for evaluator, metrics in new.eval_results_dict.items()
            if not writes_tidy_rows(evaluator)
        }
    new.benchmark_ids = dict(benchmark_ids or info.benchmark_ids or {})
    trained, iso_languages = _card_languages(info, rows)
    new.training_languages = trained
    new.set_language(iso_languages)
    if repo_id:
        new.set_model_id(repo_id)
    base = _describe_base_model(new, info, existing)
    _choose_license(new, info, existing, license, base)
    if new.base_model and not new.model_name:
        new.model_name = f"OPTICAL-distilled {Path(str(new.base_model)).name}"
    new.add_tags(["optical-st", "cross-lingual-retrieval", "optimal-transport", "distillation"])
    _link_datasets(new, info, rows, existing)
    model.model_card_data = new
    new.register_model(model)
    return new


def _card_data_like(old: Any, existing: Mapping[str, Any]) -> Any:
    """OPTICAL card data holding everything sentence-transformers' card data (and the old card) recorded."""
    new = model_card_data_class()(local_files_only=True, generate_widget_examples=False)
    for item in fields(old):  # keep everything sentence-transformers' trainer recorded
        if hasattr(new, item.name) and item.name != "template_path":
            setattr(new, item.name, getattr(old, item.name))
    new.local_files_only = True  # the card must render offline; base_model comes from training_info
    new.all_hyperparameters = scrub(new.all_hyperparameters or {})
    new.non_default_hyperparameters = scrub(new.non_default_hyperparameters or {})
    new.generate_widget_examples = False
    new.add_tags([tag for tag in as_list(existing.get("tags")) if isinstance(tag, str)])
    if not new.widget and isinstance(existing.get("widget"), list):
        new.widget = existing["widget"]
    return new


def _describe_training(new: Any, info: TrainingInfo) -> None:
    """Teacher, loss (and its citation), training bitext with licences, hyperparameters."""
    teacher = _hub_model_facts(info.teacher)
    new.teacher = teacher.get("base_model")
    new.teacher_note = info.teacher_note or teacher.get("note")
    if info.teacher and not new.teacher:
        new.teacher_note = "a local model that is not on the Hub"
        logger.warning(
            "The teacher %r is not a Hub model; the card names it only as a local model.", info.teacher
        )
    new.loss_name = info.loss.get("name")
    new.loss_config = dict(info.loss.get("config") or {})
    if info.loss.get("citation") and info.loss.get("name"):
        new.citations = {**new.citations, info.loss["name"]: info.loss["citation"]}
    new.training_bitext = [_with_source_facts(entry) for entry in info.bitext]
    new.extra_hyperparameters = dict(info.hyperparameters)


def _describe_base_model(new: Any, info: TrainingInfo, existing: Mapping[str, Any]) -> dict[str, str]:
    """Base model from the run record, else the provenance of the folder it names, else the old card."""
    base: dict[str, str] = {}
    for candidate in (info.base_model, info.student_argument, existing.get("base_model")):
        base = _hub_model_facts(candidate)
        if base.get("base_model"):
            break
    if base.get("base_model"):
        new.base_model = base["base_model"]
    new.base_model_note = info.base_model_note or base.get("note")
    if info.trained and not new.base_model:
        logger.warning(
            "The card has no base_model: the run record names no Hub model the student was initialised "
            "from (%r). Set training_info['base_model'] to its Hub id.",
            info.base_model or info.student_argument,
        )
    return base


def _choose_license(
    new: Any, info: TrainingInfo, existing: Mapping[str, Any], license: str | None, base: Mapping[str, str]
) -> None:
    """Explicit, else the record's, else the base model's (provenance), else the old card's licence."""
    chosen = license or info.license or info.base_model_license or base.get("license")
    chosen = chosen or existing.get("license")
    if chosen:
        # "Apache 2.0" -> "apache-2.0"; an id this module does not know stays as given (the Hub checks it)
        new.set_license(license_id(chosen) or chosen)
        if not (license or info.license):
            logger.info("Licence %r taken from the base model's provenance or the existing card.", chosen)
    elif info.trained:
        raise ValueError(
            "No licence is known for this trained model (neither given nor recorded for its base model "
            f"{new.base_model or 'unknown'}): pass license=... (--license), e.g. the base model's licence."
        )
    else:
        logger.warning("The model card has no license; pass license=... (--license).")


def _link_datasets(
    new: Any, info: TrainingInfo, rows: Sequence[Mapping], existing: Mapping[str, Any]
) -> None:
    """``datasets``: Hub ids of the training bitext and of the benchmarks; say what stays unlinked."""
    datasets = [d for d in as_list(new.datasets) + as_list(existing.get("datasets")) if hub_id_form(d)]
    for bitext in new.training_bitext:
        if looks_like_hub_id(bitext.get("id")):
            datasets.append(bitext["id"])
    if info.trained and not any(looks_like_hub_id(b.get("id")) for b in new.training_bitext):
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
            if link is None and not is_aggregate(r)
        }
    )
    if unlinked:
        logger.warning(
            "Results on %s stay out of model-index and .eval_results: no Hub dataset is known for them. Push the "
            "benchmark (push_benchmark) and pass benchmark_ids (--benchmark-id NAME=user/dataset), or "
            "evaluate on the benchmark loaded from the Hub.",
            ", ".join(unlinked),
        )


def render_model_card(data: SentenceTransformerModelCardData) -> str:
    """The model card text (``README.md``) for card data from :func:`build_model_card_data`.

    Raises instead of returning a partial card (:func:`validate_card`).
    """
    from huggingface_hub import ModelCard

    card = ModelCard.from_template(card_data=data, template_path=str(data.template_path), hf_emoji="🤗")
    text = str(card)
    validate_card(text, "model")
    return text
