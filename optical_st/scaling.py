"""The scaling study: how parameter count changes recall@k, zero-shot and after OT distillation.

One study is a grid of *cells*, ``model x condition x language``: every model of a size ladder is
evaluated on cross-lingual retrieval benchmarks (:class:`~optical_st.evaluation.CLIREvaluator`), as it
is (``"zero-shot"``) and, when a :class:`DistillationRecipe` is given, after OPTICAL distillation
(``"ot-distilled"``, :func:`optical_st.training.distill` with :class:`~optical_st.losses.OTDistillLoss`).

How a study runs:

* **Models** are named specs (:func:`parse_model_spec`): a local folder or Hub id, ``truncate:SRC:N``
  (the first ``N`` transformer layers of ``SRC``), ``ladder:SRC:3,6,9,12`` (several truncations) or
  ``preset:NAME`` (:data:`PRESETS`). Names must be unique: they name the result files.
* **Parameters** are counted per model (:func:`count_parameters`): total, embedding (every
  ``nn.Embedding``: word, position and token-type tables, i.e. the vocabulary-sized part) and
  non-embedding. Multilingual vocabularies dominate small models, so both can serve as the x-axis.
* **Resumable**: each finished cell is one JSON file ``cells/<model>/<condition>/<language>.json``; a
  rerun skips finished cells and loads (or distils) a model only if one of its cells is missing. The
  distilled students are kept under ``checkpoint_dir`` so an interrupted study does not train twice.
* **Robust**: a model that cannot be loaded or distilled is skipped with the reason recorded in
  ``skipped/<model>__<condition>.json`` and the study goes on; unknown languages and duplicate names
  fail before any work starts.
* **Several processes** (``accelerate launch``): the ``(model, condition)`` units are dealt out by
  process index (``accelerate.PartialState``); the main process writes the report after all finish.

Outputs (:func:`write_report`): tidy ``results.csv``/``results.json`` (one row per cell x benchmark x
metric), ``models.csv``, ``trends.csv`` (a log-linear fit ``value ~ a + slope * log10(parameters)`` per
language and condition with a 95% confidence interval of the slope, :func:`fit_trends`), a markdown
``report.md`` and plots ``<metric>_vs_<x>.png`` (log x-axis, one line per language, low-resource
languages highlighted, one panel per condition).

Example:
    ::

        from optical_st.scaling import DistillationRecipe, ScalingStudy, bitext_benchmarks, write_report

        benchmarks = bitext_benchmarks("shared/data/flores200", ["npi", "sin", "hin"])
        study = ScalingStudy(
            ["ladder:/path/to/multilingual-e5-small:3,6,9,12"],
            benchmarks,
            output_dir="runs/scaling",
            k_values=(1, 5, 10),
            recipe=DistillationRecipe("shared/data/floresv1_ne_si", split="dev", steps=100),
        )
        results = study.run()
        write_report(results, "runs/scaling/report", skipped=study.skipped())

References:
    - Huang, Yu, Allan, "Improving Cross-lingual Information Retrieval on Low-Resource Languages via
      Optimal Transport Distillation", WSDM 2023, https://arxiv.org/abs/2301.12566
    - Kaplan et al., "Scaling Laws for Neural Language Models", 2020 (non-embedding parameter counts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optical_st.languages import ENGLISH, LOW_RESOURCE, get_language

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from sentence_transformers import SentenceTransformer

    from optical_st.data import CLIRBenchmark

logger = logging.getLogger(__name__)

ZERO_SHOT = "zero-shot"
DISTILLED = "ot-distilled"
CONDITIONS: tuple[str, ...] = (ZERO_SHOT, DISTILLED)
X_AXES: dict[str, str] = {
    "params_total": "total parameters",
    "params_non_embedding": "non-embedding parameters",
}

PRESETS: dict[str, tuple[str, ...]] = {
    # The public multilingual encoder families, smallest to largest within each family. Needs Hub access.
    "public-families": (
        "multilingual-e5-small=intfloat/multilingual-e5-small",
        "multilingual-e5-base=intfloat/multilingual-e5-base",
        "multilingual-e5-large=intfloat/multilingual-e5-large",
        "xlm-roberta-base=FacebookAI/xlm-roberta-base",
        "xlm-roberta-large=FacebookAI/xlm-roberta-large",
        "LaBSE=sentence-transformers/LaBSE",
        "paraphrase-multilingual-MiniLM-L12-v2=sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        "paraphrase-multilingual-mpnet-base-v2=sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
    ),
    # The controlled ladder used offline: multilingual-e5-small cut to its first 3/6/9/12 layers.
    "me5-small-ladder": ("ladder:intfloat/multilingual-e5-small:3,6,9,12",),
}
"""Named model lists for ``preset:NAME`` (see ``docs/scaling.md``)."""


class StaleResultsError(ValueError):
    """The output directory holds cells of a differently configured study (other benchmarks, k or recipe)."""


# --------------------------------------------------------------------------------------------------
# Model specs, truncation, parameter counts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One encoder of the study.

    Args:
        name: unique label (file names, table columns, plot points).
        source: local sentence-transformers folder or Hub id (``None``: the default
            multilingual-e5-small of :func:`optical_st.pretrained.load_sentence_transformer`).
        keep_layers: keep only the first ``keep_layers`` transformer layers (``None``: all).
        spec: the text the spec was parsed from (recorded in the results).
    """

    name: str
    source: str | None
    keep_layers: int | None = None
    spec: str = ""

    def load(self, device: str | None = None) -> SentenceTransformer:
        """Load the model (through :mod:`optical_st.pretrained`) and truncate it if asked."""
        from optical_st.pretrained import load_sentence_transformer

        model = load_sentence_transformer(self.source, device=device)
        if self.keep_layers is not None:
            truncate_layers(model, self.keep_layers)
        return model

    def full_depth(self) -> ModelSpec:
        """The same model without truncation (the default teacher of a truncated student)."""
        return ModelSpec(_default_name(self.source), self.source, None, self.source or "")


def _default_name(source: str | None) -> str:
    if source is None:
        return "multilingual-e5-small"
    return Path(source.rstrip("/")).name or source


def _parse_layers(text: str, spec: str) -> list[int]:
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        layers = []
    if not layers or any(n < 1 for n in layers):
        raise ValueError(f"model spec {spec!r}: layer counts must be positive integers like 3,6,9,12")
    return layers


def parse_model_spec(text: str) -> list[ModelSpec]:
    """Parse one model spec into one or more :class:`ModelSpec` (a ladder or preset gives several).

    Forms (``NAME=`` in front of a single-model form sets its name):

    * ``PATH_OR_HUB_ID`` - a model as it is;
    * ``truncate:SRC:N`` / ``truncate:N`` - the first ``N`` layers of ``SRC`` (default model if omitted);
    * ``ladder:SRC:3,6,9,12`` / ``ladder:3,6,9,12`` - one truncation per count, named ``<src>-L<n>``;
    * ``preset:NAME`` - a list from :data:`PRESETS`.

    Example::

        >>> [s.name for s in parse_model_spec("ladder:/models/me5-small:3,12")]
        ['me5-small-L3', 'me5-small-L12']
        >>> parse_model_spec("tiny=truncate:/models/me5-small:6")[0].keep_layers
        6
    """
    text = text.strip()
    if not text:
        raise ValueError("empty model spec")
    if text.startswith("preset:"):
        preset = text.removeprefix("preset:")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
        return [spec for item in PRESETS[preset] for spec in parse_model_spec(item)]
    name = None
    head = text.split(":", 1)[0]
    if "=" in head:
        name, text = (part.strip() for part in text.split("=", 1))
        if not name:
            raise ValueError(f"model spec {text!r}: empty name before '='")
    if text.startswith(("truncate:", "ladder:")):
        kind, rest = text.split(":", 1)
        source, _, layers_text = rest.rpartition(":")
        source = source or None
        layers = _parse_layers(layers_text, text)
        if kind == "truncate" and len(layers) != 1:
            raise ValueError(f"model spec {text!r}: truncate takes one layer count; use ladder: for several")
        if kind == "ladder" and name is not None:
            raise ValueError(f"model spec {text!r}: a ladder names its models itself (<source>-L<n>)")
        base = _default_name(source)
        return [
            ModelSpec(name or f"{base}-L{n}", source, n, f"truncate:{source or ''}:{n}".replace("::", ":"))
            for n in layers
        ]
    return [ModelSpec(name or _default_name(text), text, None, text)]


def parse_model_specs(texts: Iterable[str]) -> list[ModelSpec]:
    """Parse several specs; raise a ``ValueError`` naming any duplicate model names."""
    specs = [spec for text in texts for spec in parse_model_spec(text)]
    if not specs:
        raise ValueError("no models given")
    check_unique_names(specs)
    return specs


def _safe(name: str) -> str:
    return re.sub(r"[^\w.+-]", "_", name)


def check_unique_names(specs: Sequence[ModelSpec]) -> None:
    """Model names label result files: two models with the same (file-safe) name would overwrite each other."""
    seen: dict[str, str] = {}
    duplicates = []
    for spec in specs:
        key = _safe(spec.name).casefold()
        if key in seen:
            duplicates.append(f"{spec.name!r} ({seen[key]} and {spec.spec or spec.source})")
        seen[key] = spec.spec or str(spec.source)
    if duplicates:
        raise ValueError(
            "duplicate model names: " + "; ".join(duplicates) + ". Name models explicitly with NAME=SPEC."
        )


def _layer_list(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The ``nn.ModuleList`` of transformer blocks (``encoder.layer`` in BERT/XLM-R, ``layers`` elsewhere)."""
    import torch

    config = getattr(model, "config", None)
    n_layers = getattr(config, "num_hidden_layers", None)
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers and len(module) > 0
    ]
    if len(candidates) > 1:
        candidates = [(n, m) for n, m in candidates if n.split(".")[-1] in ("layer", "layers", "block")]
    if len(candidates) != 1:
        raise ValueError(
            f"cannot find the transformer layers of {type(model).__name__} "
            f"(config.num_hidden_layers={n_layers}; candidate module lists: {[n for n, _ in candidates]})"
        )
    return candidates[0][1]


def truncate_layers(model: SentenceTransformer, keep: int) -> SentenceTransformer:
    """Keep the first ``keep`` transformer layers of a SentenceTransformer, in place; return it.

    The embeddings, pooling and normalisation stay as they are, and ``config.num_hidden_layers`` is
    updated so ``model.save`` writes a model that loads back truncated.

    Raises:
        ValueError: ``keep`` is not between 1 and the model's layer count, or the layers cannot be found.

    Example::

        >>> model = truncate_layers(SentenceTransformer("intfloat/multilingual-e5-small"), 6)  # doctest: +SKIP
        >>> model[0].auto_model.config.num_hidden_layers  # doctest: +SKIP
        6
    """
    auto_model = getattr(model[0], "auto_model", None)
    if auto_model is None:
        raise ValueError(f"cannot truncate {type(model[0]).__name__}: it has no Hugging Face auto_model")
    layers = _layer_list(auto_model)
    if not 1 <= keep <= len(layers):
        raise ValueError(
            f"cannot keep {keep} layers of a model with {len(layers)} layers (use 1..{len(layers)})"
        )
    del layers[keep:]
    auto_model.config.num_hidden_layers = keep
    return model


def count_layers(model: SentenceTransformer) -> int | None:
    """Transformer layers of the model's first module (``None`` if it has no Hugging Face config)."""
    auto_model = getattr(model[0], "auto_model", None)
    try:
        return len(_layer_list(auto_model)) if auto_model is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a model: ``total = embedding + non_embedding``.

    ``embedding`` counts every ``torch.nn.Embedding`` weight (word/vocabulary, position and token-type
    tables); LayerNorms, attention, feed-forward and any extra heads (e.g. a Dense projection) are
    ``non_embedding``. Shared (tied) tensors are counted once.
    """

    total: int
    embedding: int
    non_embedding: int


def count_parameters(model: torch.nn.Module) -> ParameterCount:
    """Count total, embedding and non-embedding parameters of ``model`` (any ``nn.Module``).

    Example::

        >>> import torch
        >>> count_parameters(torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2)))
        ParameterCount(total=50, embedding=40, non_embedding=10)
    """
    import torch

    embedding_ids = {
        id(parameter)
        for module in model.modules()
        if isinstance(module, torch.nn.Embedding)
        for parameter in module.parameters(recurse=False)
    }
    total = embedding = 0
    for parameter in model.parameters():  # deduplicated by torch: tied weights count once
        total += parameter.numel()
        if id(parameter) in embedding_ids:
            embedding += parameter.numel()
    return ParameterCount(total, embedding, total - embedding)


# --------------------------------------------------------------------------------------------------
# Benchmarks and the distillation recipe
# --------------------------------------------------------------------------------------------------


def benchmark_language(benchmark: CLIRBenchmark) -> str:
    """The non-English side of a benchmark (the language its results are filed under)."""
    query, document = benchmark.query_language, benchmark.document_language
    if query != ENGLISH:
        return query
    return document


def _direction(benchmark: CLIRBenchmark) -> str:
    if benchmark.document_language == ENGLISH and benchmark.query_language != ENGLISH:
        return "xx->eng"
    if benchmark.query_language == ENGLISH and benchmark.document_language != ENGLISH:
        return "eng->xx"
    return f"{benchmark.query_language}->{benchmark.document_language}"


def _task(benchmark: CLIRBenchmark) -> str:
    """The benchmark name with its language replaced by ``xx``: the same task across languages."""
    return benchmark.name.replace(benchmark_language(benchmark), "xx")


def bitext_benchmarks(
    source: str | os.PathLike[str],
    languages: str | Iterable[str] = "all",
    *,
    directions: Sequence[str] = ("xx->eng",),
    split: str | None = None,
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[CLIRBenchmark]:
    """Sentence-level bitext retrieval benchmarks, one per language and direction, from a bitext source.

    Args:
        source: anything :func:`optical_st.data.load_bitext` reads (e.g. ``shared/data/flores200``).
        languages: languages in any spelling, a tier or ``"all"``; one the source lacks raises a
            ``ValueError`` listing the languages it has.
        directions: ``"xx->eng"`` and/or ``"eng->xx"``.
        split: bitext split (``None``: all).
        max_pairs: keep a seeded random sample of this many pair ids, the same ids in every language
            (multi-way parallel sources such as FLORES keep one shared English corpus); ``None``: all.
        seed: seed of that sample.
    """
    import random

    from optical_st.data import load_bitext, sentence_retrieval_benchmark

    bitext = load_bitext(source, languages, split=split)
    wanted = list(dict.fromkeys(bitext["language"]))
    keep = None
    if max_pairs is not None:
        ids = sorted(set(bitext["id"]))
        keep = set(random.Random(seed).sample(ids, min(max_pairs, len(ids))))
    benchmarks = []
    for language in wanted:
        rows = [
            i
            for i, (code, pair_id) in enumerate(zip(bitext["language"], bitext["id"], strict=True))
            if code == language and (keep is None or pair_id in keep)
        ]
        subset = bitext.select(rows)
        benchmarks.extend(sentence_retrieval_benchmark(subset, direction) for direction in directions)
    return benchmarks


@dataclass(frozen=True)
class DistillationRecipe:
    """How each model is OT-distilled before its ``"ot-distilled"`` evaluation.

    Args:
        bitext: training bitext, anything :func:`optical_st.data.load_bitext` reads.
        languages: bitext languages to train on (``None``: all in ``bitext``).
        split: bitext split (e.g. ``"dev"``).
        max_pairs: at most this many pairs per language (a seeded random sample); ``None``: all.
        teacher: teacher spec (:func:`parse_model_spec`, one model); ``None``: each model's own
            full-depth source (OPTICAL's frozen copy; the untruncated model for a truncated student).
        loss: ``"ot"`` or ``"ot+sentence"`` (see :func:`optical_st.training.distill`).
        steps, epochs, batch_size, max_length, lr, reg, seed: passed to :func:`optical_st.training.distill`.
        freeze_embeddings: train only the non-embedding parameters (every ``nn.Embedding`` frozen):
            cheaper on CPU (no update of the ~96M-parameter multilingual vocabulary table) and keeps the
            embedding part of the parameter count identical before and after distillation.
    """

    bitext: str
    languages: tuple[str, ...] | None = None
    split: str | None = None
    max_pairs: int | None = None
    teacher: str | None = None
    loss: str = "ot"
    steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 16
    max_length: int = 128
    lr: float = 2e-5
    reg: float = 0.05
    seed: int = 0
    freeze_embeddings: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_bitext(self) -> Any:
        """The training pairs (``max_pairs`` per language, sampled with ``seed``)."""
        from optical_st.data import load_bitext

        bitext = load_bitext(self.bitext, list(self.languages) if self.languages else None, split=self.split)
        if self.max_pairs is None:
            return bitext
        shuffled = bitext.shuffle(seed=self.seed)
        keep, taken = [], {}
        for index, language in enumerate(shuffled["language"]):
            if taken.get(language, 0) < self.max_pairs:
                taken[language] = taken.get(language, 0) + 1
                keep.append(index)
        return shuffled.select(keep)


# --------------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------------


def _fingerprint(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, content: Any) -> None:
    """Write atomically: a crash never leaves a half-written cell that a rerun would trust."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)


@dataclass
class _Unit:
    spec: ModelSpec
    condition: str
    languages: list[str] = field(default_factory=list)


class ScalingStudy:
    """Evaluate many encoders on many languages, zero-shot and OT-distilled, resumably.

    Args:
        models: model specs (strings for :func:`parse_model_spec` or :class:`ModelSpec`).
        benchmarks: :class:`~optical_st.data.CLIRBenchmark` objects (e.g. :func:`bitext_benchmarks`);
            each is filed under its non-English language.
        output_dir: where cells, skip records and (by default) distilled checkpoints go.
        k_values: recall cut-offs.
        languages: restrict to these languages (any spelling); each must have a benchmark.
        recipe: distillation recipe; adds the ``"ot-distilled"`` condition.
        conditions: subset of :data:`CONDITIONS` (default: zero-shot, plus ot-distilled with a recipe).
        checkpoint_dir: where distilled students are saved (default ``output_dir/checkpoints``).
        device: torch device for loading models.
        n_bootstrap: bootstrap replicates for the per-language confidence intervals.
        batch_size: encoding batch size.
        query_prompt, document_prompt: prompts for every model (e.g. ``"query: "``/``"passage: "``);
            default: each model's saved prompts (see :class:`~optical_st.evaluation.CLIREvaluator`).
        show_progress_bar: tqdm bars.
        distill_fn: the distillation function (default :func:`optical_st.training.distill`).

    Raises:
        ValueError: duplicate model names, a requested language without a benchmark, an unknown
            condition, ``"ot-distilled"`` without a recipe.

    Example::

        >>> study = ScalingStudy(["ladder:/models/me5-small:3,6"], benchmarks, "runs/scale")  # doctest: +SKIP
        >>> results = study.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Sequence[str | ModelSpec],
        benchmarks: Sequence[CLIRBenchmark],
        output_dir: str | os.PathLike[str],
        *,
        k_values: Sequence[int] = (1, 5, 10),
        languages: str | Iterable[str] | None = None,
        recipe: DistillationRecipe | None = None,
        conditions: Sequence[str] | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        device: str | None = None,
        n_bootstrap: int = 1000,
        batch_size: int = 32,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        show_progress_bar: bool = True,
        distill_fn: Callable[..., Path] | None = None,
    ) -> None:
        specs: list[ModelSpec] = []
        for model in models:
            specs.extend([model] if isinstance(model, ModelSpec) else parse_model_spec(model))
        if not specs:
            raise ValueError("no models given")
        check_unique_names(specs)
        self.specs = specs
        if not benchmarks:
            raise ValueError("no benchmarks given")
        by_language: dict[str, list[CLIRBenchmark]] = {}
        for benchmark in benchmarks:
            by_language.setdefault(benchmark_language(benchmark), []).append(benchmark)
        for language, group in by_language.items():
            names = [b.name for b in group]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate benchmark names for {language}: {names}")
        if languages is not None:
            from optical_st.languages import parse_languages

            wanted = parse_languages(languages)
            missing = [code for code in wanted if code not in by_language]
            if missing:
                raise ValueError(
                    f"no benchmark for language(s) {', '.join(missing)}; the benchmarks cover "
                    f"{', '.join(sorted(by_language))}"
                )
            by_language = {code: by_language[code] for code in wanted}
        self.benchmarks = by_language
        self.languages = list(by_language)
        if conditions is None:
            conditions = CONDITIONS if recipe is not None else (ZERO_SHOT,)
        unknown = [c for c in conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; choose from {', '.join(CONDITIONS)}")
        if DISTILLED in conditions and recipe is None:
            raise ValueError(f"condition {DISTILLED!r} needs a DistillationRecipe")
        self.conditions = list(dict.fromkeys(conditions))
        self.recipe = recipe
        self.k_values = sorted({int(k) for k in k_values})
        self.output_dir = Path(output_dir)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else self.output_dir / "checkpoints"
        self.device = device
        self.n_bootstrap = n_bootstrap
        self.batch_size = batch_size
        self.query_prompt, self.document_prompt = query_prompt, document_prompt
        self.show_progress_bar = show_progress_bar
        self._distill_fn = distill_fn
        self._teachers: dict[str, SentenceTransformer] = {}
        self._training_bitext: Any = None

    # -- bookkeeping ----------------------------------------------------------------------------

    def cell_path(self, model: str, condition: str, language: str) -> Path:
        """``output_dir/cells/<model>/<condition>/<language>.json``."""
        return self.output_dir / "cells" / _safe(model) / condition / f"{language}.json"

    def skip_path(self, model: str, condition: str) -> Path:
        return self.output_dir / "skipped" / f"{_safe(model)}__{condition}.json"

    def cell_config(self, spec: ModelSpec, condition: str, language: str) -> dict[str, Any]:
        """What a cell's numbers depend on; a stored cell counts as finished only if it matches."""
        return {
            "model": {"name": spec.name, "source": spec.source, "keep_layers": spec.keep_layers},
            "condition": condition,
            "language": language,
            "benchmarks": sorted(b.name for b in self.benchmarks[language]),
            "k_values": self.k_values,
            "n_bootstrap": self.n_bootstrap,
            "prompts": [self.query_prompt, self.document_prompt],
            "recipe": self.recipe.to_dict() if condition == DISTILLED and self.recipe else None,
        }

    def is_finished(self, spec: ModelSpec, condition: str, language: str) -> bool:
        """True if the cell file exists and was made with this configuration.

        Raises:
            StaleResultsError: the file exists but holds results of a different configuration.
        """
        path = self.cell_path(spec.name, condition, language)
        if not path.is_file():
            return False
        stored = json.loads(path.read_text(encoding="utf-8"))
        config = self.cell_config(spec, condition, language)
        if stored.get("fingerprint") != _fingerprint(config):
            raise StaleResultsError(
                f"{path} holds results of a different study configuration "
                f"(stored {stored.get('config')}, now {config}); use another output directory "
                "or delete the stale cells"
            )
        return True

    def units(self) -> list[_Unit]:
        """All ``(model, condition)`` units with the languages still missing (finished ones excluded)."""
        units = []
        # condition-major: an interrupted study has a complete zero-shot ladder before any distillation
        for condition in self.conditions:
            for spec in self.specs:
                missing = [lang for lang in self.languages if not self.is_finished(spec, condition, lang)]
                units.append(_Unit(spec, condition, missing))
        return units

    def skipped(self) -> list[dict[str, Any]]:
        """Skip records of this study's models (reason, stage), from ``output_dir/skipped``."""
        records = []
        for spec in self.specs:
            for condition in self.conditions:
                path = self.skip_path(spec.name, condition)
                if path.is_file():
                    records.append(json.loads(path.read_text(encoding="utf-8")))
        return records

    # -- running --------------------------------------------------------------------------------

    def run(self) -> pd.DataFrame:
        """Run every unfinished cell (this process's share under accelerate); return all results.

        With several processes (``accelerate launch``), zero-shot ``(model, condition)`` units are dealt
        out round-robin by process index; a distilled unit is trained by all processes together (the
        trainer runs data-parallel across them) and its languages are then evaluated in shards.

        Returns:
            The tidy results of every finished cell (:meth:`results`), on every process.
        """
        from tqdm.auto import tqdm

        process_index, n_processes, state = _process_share()
        if n_processes > 1:
            state.wait_for_everyone()  # every process must see the same finished cells
        work: list[tuple[_Unit, list[str]]] = []
        dealt = 0
        units = self.units()
        for unit in units:
            if not unit.languages:
                continue
            if unit.condition == DISTILLED and n_processes > 1:
                work.append((unit, unit.languages[process_index::n_processes]))
                continue
            if dealt % n_processes == process_index:
                work.append((unit, unit.languages))
            dealt += 1
        remaining = sum(len(languages) for _, languages in work)
        finished = len(units) * len(self.languages) - sum(len(unit.languages) for unit in units)
        finished = finished if n_processes == 1 else 0
        with tqdm(
            total=remaining + finished,
            initial=finished,
            desc="scaling cells",
            unit="cell",
            disable=not self.show_progress_bar,
        ) as progress:
            for unit, languages in work:
                self._run_unit(unit, languages, progress)
        if n_processes > 1:
            state.wait_for_everyone()
        self._teachers.clear()
        return self.results()

    def _run_unit(self, unit: _Unit, languages: Sequence[str], progress: Any) -> None:
        """Load (and distil) one model, evaluate it on ``languages``, write one cell per language."""
        spec, condition = unit.spec, unit.condition
        stage = "load"
        started = time.perf_counter()
        try:
            model = spec.load(self.device)
            base_parameters = count_parameters(model)
            if condition == DISTILLED:
                stage = "distill"
                model = self._distilled(spec, model)
            stage = "evaluate"
            # the x-axis is the encoder as specified, in both conditions (a token projection that
            # distillation may add is a training aid, not model size)
            parameters = base_parameters
            rows = self._evaluate(model, languages) if languages else {}
        except Exception as error:  # one broken model must not stop the study
            reason = f"{type(error).__name__}: {error}"
            logger.warning("skipping %s (%s) at %s: %s", spec.name, condition, stage, reason)
            _write_json(
                self.skip_path(spec.name, condition),
                {
                    "model": spec.name,
                    "spec": spec.spec or spec.source,
                    "condition": condition,
                    "stage": stage,
                    "reason": reason,
                    "traceback": traceback.format_exc(limit=5),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
            )
            progress.update(len(languages))
            return
        self.skip_path(spec.name, condition).unlink(missing_ok=True)
        seconds = time.perf_counter() - started
        model_info = {
            "model": spec.name,
            "spec": spec.spec or spec.source,
            "source": spec.source,
            "n_layers": count_layers(model),
            "params_total": parameters.total,
            "params_embedding": parameters.embedding,
            "params_non_embedding": parameters.non_embedding,
        }
        for language in languages:
            config = self.cell_config(spec, condition, language)
            _write_json(
                self.cell_path(spec.name, condition, language),
                {
                    "fingerprint": _fingerprint(config),
                    "config": config,
                    **model_info,
                    "condition": condition,
                    "language": language,
                    "unit_seconds": round(seconds, 1),
                    "rows": rows[language],
                },
            )
            progress.update(1)

    def _evaluate(self, model: SentenceTransformer, languages: Sequence[str]) -> dict[str, list[dict]]:
        """One evaluator call over all missing languages (the shared English side is encoded once).

        Confidence intervals are bootstrapped here per benchmark, seeded by the benchmark key, so a
        cell's interval does not depend on which other languages were evaluated in the same call.
        """
        import numpy as np

        from optical_st.evaluation import CLIREvaluator, bootstrap_ci

        benchmarks = [b for lang in languages for b in self.benchmarks[lang]]
        evaluator = CLIREvaluator(
            benchmarks,
            k_values=self.k_values,
            name="scaling",
            batch_size=self.batch_size,
            query_prompt=self.query_prompt,
            document_prompt=self.document_prompt,
            show_progress_bar=self.show_progress_bar,
            n_bootstrap=0,
            write_json=False,
        )
        evaluator(model)
        by_name = {b.name: b for b in benchmarks}
        intervals: dict[tuple[str, str], tuple[float, float]] = {}
        for key, per_query in evaluator.per_query.items():
            names = [name for name in per_query if name != "query_ids"]
            if self.n_bootstrap <= 0:
                continue
            seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
            low, high, _ = bootstrap_ci(
                np.asarray([per_query[name] for name in names], dtype=float),
                n_resamples=self.n_bootstrap,
                seed=seed,
            )
            intervals.update(
                {(key, name): (float(lo), float(hi)) for name, lo, hi in zip(names, low, high, strict=True)}
            )
        rows: dict[str, list[dict]] = {lang: [] for lang in languages}
        for row in evaluator.results:
            benchmark = by_name.get(row["benchmark"])
            if benchmark is None:  # macro-average rows: recomputed from the cells by the report
                continue
            ci_low, ci_high = intervals.get((row["key"], f"{row['metric']}@{row['k']}"), (math.nan, math.nan))
            rows[benchmark_language(benchmark)].append(
                {
                    **{key: value for key, value in row.items() if key != "key"},
                    "ci_low": ci_low,
                    "ci_high": ci_high,
                    "task": _task(benchmark),
                    "direction": _direction(benchmark),
                }
            )
        empty = [lang for lang, found in rows.items() if not found]
        if empty:
            raise RuntimeError(f"the evaluator returned no rows for {empty} (benchmark names changed?)")
        return rows

    def _teacher(self, spec: ModelSpec) -> SentenceTransformer:
        assert self.recipe is not None
        teacher_spec = parse_model_spec(self.recipe.teacher)[0] if self.recipe.teacher else spec.full_depth()
        key = f"{teacher_spec.source}:{teacher_spec.keep_layers}"
        if key not in self._teachers:
            teacher = teacher_spec.load(self.device)
            teacher.eval()
            teacher.requires_grad_(False)
            self._teachers[key] = teacher
        return self._teachers[key]

    def _distilled(self, spec: ModelSpec, student: SentenceTransformer) -> SentenceTransformer:
        """Distil ``student`` (or reuse the student saved by an earlier, interrupted run)."""
        from sentence_transformers import SentenceTransformer

        assert self.recipe is not None
        run_dir = self.checkpoint_dir / _safe(spec.name)
        marker = run_dir / "scaling_recipe.json"
        config = {"model": asdict(spec), "recipe": self.recipe.to_dict()}
        final = run_dir / "final"
        reusable = marker.is_file() and (final / "modules.json").is_file()
        if reusable and json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == _fingerprint(
            config
        ):
            logger.info("reusing the distilled student in %s", final)
            return SentenceTransformer(str(final), device=self.device)
        if self._training_bitext is None:
            self._training_bitext = self.recipe.load_bitext()
        from optical_st.training import benchmark_texts

        distill = self._distill_fn
        if distill is None:
            from optical_st.training import distill
        recipe = self.recipe
        if recipe.freeze_embeddings:
            import torch

            for module in student.modules():
                if isinstance(module, torch.nn.Embedding):
                    module.requires_grad_(False)
        all_benchmarks = [b for group in self.benchmarks.values() for b in group]
        final = distill(
            student,
            self._teacher(spec),
            self._training_bitext,
            output_dir=run_dir,
            loss=recipe.loss,
            steps=recipe.steps,
            epochs=recipe.epochs,
            batch_size=recipe.batch_size,
            max_length=recipe.max_length,
            lr=recipe.lr,
            reg=recipe.reg,
            seed=recipe.seed,
            exclude_texts=benchmark_texts(all_benchmarks),
            save_steps=None,
            overwrite=True,
            show_progress_bar=self.show_progress_bar,
        )
        _, n_processes, state = _process_share()
        if n_processes > 1:
            state.wait_for_everyone()  # the main process has saved the final student
        if state.is_main_process:
            _write_json(marker, {"fingerprint": _fingerprint(config), "config": config})
        logger.info("distilled %s -> %s", spec.name, final)
        return student  # trained in place (identical to the saved final student)

    # -- results --------------------------------------------------------------------------------

    def results(self) -> pd.DataFrame:
        """Tidy results of this study's finished cells (see :func:`load_cells`)."""
        paths = [
            self.cell_path(spec.name, condition, language)
            for spec in self.specs
            for condition in self.conditions
            for language in self.languages
        ]
        return load_cells([p for p in paths if p.is_file()])


def _process_share() -> tuple[int, int, Any]:
    """``(process_index, n_processes, state)``: one process, or this process's rank under ``accelerate launch``."""
    from accelerate import PartialState

    state = PartialState()
    return state.process_index, state.num_processes, state


# --------------------------------------------------------------------------------------------------
# Tables, fits, plots
# --------------------------------------------------------------------------------------------------

RESULT_COLUMNS = (
    "model", "spec", "condition", "language", "language_name", "low_resource", "task", "direction",
    "benchmark", "query_language", "document_language", "level", "metric", "k", "value", "ci_low",
    "ci_high", "n_queries", "n_layers", "params_total", "params_embedding", "params_non_embedding",
)  # fmt: skip


def load_cells(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Read cell files into one tidy frame (columns :data:`RESULT_COLUMNS`), one row per metric value."""
    import pandas as pd

    records = []
    for path in paths:
        cell = json.loads(Path(path).read_text(encoding="utf-8"))
        language = cell["language"]
        for row in cell["rows"]:
            records.append(
                {
                    **row,
                    "model": cell["model"],
                    "spec": cell["spec"],
                    "condition": cell["condition"],
                    "language": language,
                    "language_name": get_language(language).name,
                    "low_resource": language in LOW_RESOURCE,
                    "n_layers": cell.get("n_layers"),
                    "params_total": cell["params_total"],
                    "params_embedding": cell["params_embedding"],
                    "params_non_embedding": cell["params_non_embedding"],
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    return frame


def load_results(output_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every cell under ``output_dir/cells`` as one tidy frame."""
    return load_cells(sorted(Path(output_dir).glob("cells/*/*/*.json")))


def _select(results: pd.DataFrame, metric: str, k: int | None) -> pd.DataFrame:
    selected = results[results["metric"] == metric]
    if k is not None:
        selected = selected[selected["k"] == k]
    if selected.empty:
        available = sorted({f"{m}@{kk}" for m, kk in zip(results["metric"], results["k"], strict=True)})
        raise ValueError(f"no results for {metric}@{k}; available: {', '.join(available)}")
    return selected


def fit_trends(
    results: pd.DataFrame,
    metric: str = "recall",
    k: int | None = 10,
    x: str = "params_total",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fit ``value = intercept + slope * log10(x)`` per task, language and condition (ordinary least squares).

    The slope is the change of the metric per tenfold parameters. Its confidence interval is
    ``slope +- t_{n-2} * stderr`` (``scipy.stats.linregress``); with 4 models t has 2 degrees of
    freedom (t = 4.30 at 95%), so the interval is wide. With fewer than 3 distinct sizes there is no
    interval (NaN), with fewer than 2 no fit (NaN slope).

    Returns:
        One row per fit: task, direction, language, low_resource, condition, metric, k, x, n_models,
        x_min, x_max, slope, ci_low, ci_high, fitted_change (slope x log10(x_max / x_min): the fitted
        change across the measured sizes), intercept, r2, p_value.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    selected = _select(results, metric, k)
    rows = []
    keys = ["task", "direction", "language", "low_resource", "condition"]
    for (task, direction, language, low, condition), group in selected.groupby(keys, sort=True):
        xs = np.log10(group[x].to_numpy(dtype=float))
        ys = group["value"].to_numpy(dtype=float)
        n_sizes = len(np.unique(xs))
        slope = intercept = r2 = p_value = ci_low = ci_high = math.nan
        if n_sizes >= 2:
            fit = stats.linregress(xs, ys)
            slope, intercept, p_value = float(fit.slope), float(fit.intercept), float(fit.pvalue)
            r2 = float(fit.rvalue**2)
            if n_sizes >= 3 and len(xs) >= 3:
                t = stats.t.ppf(0.5 + confidence / 2, len(xs) - 2)
                ci_low, ci_high = slope - t * fit.stderr, slope + t * fit.stderr
            else:
                p_value = math.nan
        # the fitted change across the sizes actually measured: a slope "per 10x" extrapolates far
        # beyond a narrow range (e.g. total parameters of a depth ladder span only ~1.16x)
        fitted_change = slope * (xs.max() - xs.min()) if n_sizes >= 2 else math.nan
        rows.append(
            {
                "task": task, "direction": direction, "language": language, "low_resource": bool(low),
                "condition": condition, "metric": metric, "k": k, "x": x, "n_models": len(xs),
                "x_min": float(10 ** xs.min()), "x_max": float(10 ** xs.max()), "slope": slope,
                "ci_low": ci_low, "ci_high": ci_high, "fitted_change": fitted_change, "intercept": intercept,
                "r2": r2, "p_value": p_value,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def models_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, condition): layers and parameter counts, smallest first."""
    columns = [
        "model",
        "spec",
        "condition",
        "n_layers",
        "params_total",
        "params_embedding",
        "params_non_embedding",
    ]
    table = results[columns].drop_duplicates().sort_values(["params_total", "model", "condition"])
    return table.reset_index(drop=True)


def _millions(n: float) -> str:
    return f"{n / 1e6:.1f}M"


def markdown_table(results: pd.DataFrame, metric: str = "recall", k: int | None = 10) -> str:
    """Markdown: one table per task, a row per language (low-resource marked), a column per model x condition.

    The two last rows are plain means over the languages shown (all, and low-resource only).
    """
    selected = _select(results, metric, k)
    order = models_table(selected)
    model_order = list(dict.fromkeys(order["model"]))
    conditions = [c for c in CONDITIONS if c in set(selected["condition"])]
    columns = [(m, c) for m in model_order for c in conditions]
    label = f"{metric}@{k}" if k is not None else metric
    parts = []
    for task, group in selected.groupby("task", sort=True):
        values = group.set_index(["language", "model", "condition"])["value"]
        header = ["language"] + [f"{m} {c}" for m, c in columns]
        lines = [f"**{task}** ({label})", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        languages = sorted(set(group["language"]), key=lambda c: (c not in LOW_RESOURCE, c))
        for language in languages:
            name = get_language(language).name + (" *(low)*" if language in LOW_RESOURCE else "")
            cells = [_fmt(values.get((language, m, c))) for m, c in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for title, subset in (
            ("mean (all)", languages),
            ("mean (low-resource)", [c for c in languages if c in LOW_RESOURCE]),
        ):
            if not subset:
                continue
            cells = []
            for m, c in columns:
                found = [values.get((lang, m, c)) for lang in subset]
                found = [v for v in found if v is not None]
                cells.append(_fmt(sum(found) / len(found)) if len(found) == len(subset) else "-")
            lines.append(f"| **{title}** | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def trends_markdown(trends: pd.DataFrame) -> str:
    """Markdown table of :func:`fit_trends` output (slope per tenfold parameters and its 95% CI)."""
    if trends.empty:
        return "(no trends)\n"
    lines = [
        "| task | language | condition | x-axis (range) | n | slope per 10x params | 95% CI | fitted change over range | R² |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ordered = trends.sort_values(
        ["task", "low_resource", "language", "condition", "x"], ascending=[True, False, True, True, True]
    )
    for row in ordered.itertuples():
        name = get_language(row.language).name + (" *(low)*" if row.low_resource else "")
        lines.append(
            f"| {row.task} | {name} | {row.condition} | {X_AXES[row.x]} ({_millions(row.x_min)}-{_millions(row.x_max)}) "
            f"| {row.n_models} | {_fmt(row.slope)} | [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}] | "
            f"{_fmt(row.fitted_change)} | {_fmt(row.r2, 2)} |"
        )
    return "\n".join(lines) + "\n"


def plot_scaling(
    results: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metric: str = "recall",
    k: int | None = 10,
    x: str = "params_total",
    task: str | None = None,
) -> Path:
    """Plot ``metric@k`` against parameters (log x): one panel per condition, one line per language.

    Low-resource languages (:data:`~optical_st.languages.LOW_RESOURCE`) are drawn in colour with
    markers and labelled; the others are thin grey lines. The plot is saved as PNG to ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    selected = _select(results, metric, k)
    tasks = sorted(set(selected["task"]))
    task = task or tasks[0]
    selected = selected[selected["task"] == task]
    conditions = [c for c in CONDITIONS if c in set(selected["condition"])]
    figure, axes = plt.subplots(
        1, len(conditions), figsize=(6 * len(conditions), 4.5), sharey=True, squeeze=False
    )
    colours = plt.get_cmap("tab10")
    low_languages = sorted(code for code in set(selected["language"]) if code in LOW_RESOURCE)
    for axis, condition in zip(axes[0], conditions, strict=True):
        subset = selected[selected["condition"] == condition]
        for language, group in subset.groupby("language"):
            group = group.sort_values(x)
            if language in LOW_RESOURCE:
                style = {"color": colours(low_languages.index(language)), "linewidth": 2.2, "marker": "o",
                         "label": f"{get_language(language).name} (low)", "zorder": 3}  # fmt: skip
            else:
                style = {"color": "0.6", "linewidth": 0.9, "marker": ".", "alpha": 0.8, "zorder": 2}
            axis.plot(group[x], group["value"], **style)
        axis.plot([], [], color="0.6", linewidth=0.9, label="other South Asian")
        axis.set_xscale("log")
        axis.set_title(condition)
        axis.set_xlabel(X_AXES[x] + " (log scale)")
        axis.grid(True, which="both", alpha=0.3)
        for row in subset[["model", x]].drop_duplicates().itertuples():
            axis.annotate(row.model, (getattr(row, x), axis.get_ylim()[0]), fontsize=7, rotation=90,
                          va="bottom", ha="right", color="0.4")  # fmt: skip
    label = f"{metric}@{k}" if k is not None else metric
    axes[0][0].set_ylabel(label)
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.suptitle(f"{task}: {label} vs {X_AXES[x]}")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_report(
    results: pd.DataFrame,
    report_dir: str | os.PathLike[str],
    *,
    metric: str = "recall",
    k: int = 10,
    skipped: Sequence[Mapping[str, Any]] = (),
    title: str = "Scaling study",
    command: str | None = None,
    notes: str = "",
) -> dict[str, Path]:
    """Write the study's outputs under ``report_dir`` (local files first; push separately).

    Files: ``results.csv``, ``results.json`` (tidy, every metric), ``models.csv``, ``trends.csv``
    (fits for every recall@k on both x-axes), ``skipped.json``, ``report.md`` (models, the ``metric@k``
    table per task, trends, skipped models, the command) and one plot per task, x-axis and
    ``metric@k`` (the chosen one and every recall@k), ``<metric>@<k>_vs_<x>[_<task>].png``.

    Returns:
        Name -> path of every file written.
    """
    import pandas as pd

    if results.empty:
        raise ValueError("no finished cells to report")
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    ordered = results.sort_values(["task", "condition", "params_total", "model", "language", "metric", "k"])
    files["results.csv"] = report_dir / "results.csv"
    ordered.to_csv(files["results.csv"], index=False)
    files["results.json"] = report_dir / "results.json"
    ordered.to_json(files["results.json"], orient="records", indent=1)
    models = models_table(results)
    files["models.csv"] = report_dir / "models.csv"
    models.to_csv(files["models.csv"], index=False)
    trend_frames = [
        fit_trends(results, "recall", kk, x)
        for kk in sorted(set(results.loc[results["metric"] == "recall", "k"]))
        for x in X_AXES
    ]
    trends = pd.concat(trend_frames, ignore_index=True) if trend_frames else pd.DataFrame()
    files["trends.csv"] = report_dir / "trends.csv"
    trends.to_csv(files["trends.csv"], index=False)
    files["skipped.json"] = report_dir / "skipped.json"
    _write_json(files["skipped.json"], list(skipped))

    tasks = sorted(set(results["task"]))
    plots = []
    # the chosen metric@k first, then every other recall@k (small candidate sets saturate at large k)
    plotted = [(metric, k)] + [
        ("recall", kk) for kk in sorted(set(results.loc[results["metric"] == "recall", "k"]))
    ]
    for plot_metric, plot_k in dict.fromkeys(plotted):
        for task in tasks:
            suffix = "" if len(tasks) == 1 else "_" + _safe(task)
            for x in X_AXES:
                name = f"{plot_metric}@{plot_k}_vs_{x}{suffix}.png"
                files[name] = plot_scaling(
                    results, report_dir / name, metric=plot_metric, k=plot_k, x=x, task=task
                )
                plots.append(name)

    main_trends = trends[(trends["k"] == k)] if not trends.empty else trends
    lines = [f"# {title}", ""]
    if command:
        lines += ["Reproduce with:", "", "```", command, "```", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += [
        "## Models",
        "",
        "| model | condition | layers | total | embedding | non-embedding |",
        "|---|---|---|---|---|---|",
    ]
    for row in models.itertuples():
        lines.append(
            f"| {row.model} | {row.condition} | {row.n_layers} | {_millions(row.params_total)} | "
            f"{_millions(row.params_embedding)} | {_millions(row.params_non_embedding)} |"
        )
    lines += ["", f"## {metric}@{k}", "", markdown_table(results, metric, k)]
    lines += [
        f"## Log-linear trend of recall@{k} (slope per tenfold parameters)",
        "",
        trends_markdown(main_trends),
    ]
    lines += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    if skipped:
        lines += (
            ["## Skipped", ""]
            + [
                f"- {record['model']} ({record['condition']}, at {record['stage']}): {record['reason']}"
                for record in skipped
            ]
            + [""]
        )
    files["report.md"] = report_dir / "report.md"
    files["report.md"].write_text("\n".join(lines), encoding="utf-8")
    return files


def render_report_card(
    report_dir: str | os.PathLike[str],
    *,
    pretty_name: str = "optical-st scaling study",
    license: str = "cc-by-sa-4.0",
) -> str:
    """The Hub dataset card (``README.md``) of a report folder written by :func:`write_report`.

    Metadata is data (``huggingface_hub.DatasetCardData``): languages of the results, licence, the
    ``results``/``trends``/``models`` CSV files as dataset configs; the body is ``report.md`` plus the
    OPTICAL citation. The default licence follows the evaluation data (FLORES, CC BY-SA 4.0).
    """
    import pandas as pd
    from huggingface_hub import DatasetCard, DatasetCardData

    from optical_st.hub import OPTICAL_CITATION

    report_dir = Path(report_dir)
    results = pd.read_csv(report_dir / "results.csv")
    codes = {get_language(code).iso639_1 or get_language(code).code for code in results["language"]}
    languages = ["en", *sorted(codes)]
    data = DatasetCardData(
        language=languages,
        license=license,
        pretty_name=pretty_name,
        task_categories=["text-retrieval"],
        tags=["optical-st", "scaling", "cross-lingual-retrieval", "south-asian-languages"],
        configs=[
            {
                "config_name": name,
                "data_files": f"{name}.csv",
                **({"default": True} if name == "results" else {}),
            }
            for name in ("results", "trends", "models")
        ],
    )
    body = (report_dir / "report.md").read_text(encoding="utf-8")
    text = f"---\n{data.to_yaml()}\n---\n\n{body}\n\n## Citation\n\n```bibtex\n{OPTICAL_CITATION}\n```\n"
    return str(DatasetCard(text))


def push_report(
    report_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    endpoint: str | None = None,
    pretty_name: str = "optical-st scaling study",
    license: str = "cc-by-sa-4.0",
) -> str:
    """Upload a report folder (:func:`write_report`) to the Hub as a dataset with a card; return the commit URL.

    The card is written into ``report_dir/README.md`` first and validated, so a failed push (no token,
    no network) leaves a complete folder behind; the network call itself is :mod:`optical_st.hub`'s.
    """
    from optical_st import hub

    report_dir = Path(report_dir)
    if not (report_dir / "results.csv").is_file():
        raise FileNotFoundError(f"{report_dir} holds no results.csv; run write_report first")
    text = render_report_card(report_dir, pretty_name=pretty_name, license=license)
    hub.validate_card(text, "dataset")
    (report_dir / "README.md").write_text(text, encoding="utf-8")
    return hub.upload_folder(
        report_dir,
        repo_id,
        "dataset",
        token=token,
        private=private,
        exist_ok=True,
        endpoint=endpoint,
        commit_message="optical-st scaling study results",
        card_text=text,
    )


__all__ = [
    "CONDITIONS",
    "DISTILLED",
    "PRESETS",
    "ZERO_SHOT",
    "DistillationRecipe",
    "ModelSpec",
    "ParameterCount",
    "ScalingStudy",
    "StaleResultsError",
    "bitext_benchmarks",
    "count_parameters",
    "fit_trends",
    "load_cells",
    "load_results",
    "markdown_table",
    "parse_model_spec",
    "parse_model_specs",
    "plot_scaling",
    "push_report",
    "render_report_card",
    "truncate_layers",
    "write_report",
]
