"""``ScalingStudy``: a grid of (model, condition, language) cells, resumable, one cell file each."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optical_st._atomic import write_json

if TYPE_CHECKING:
    import pandas as pd
    from sentence_transformers import SentenceTransformer

    from optical_st.data import CLIRBenchmark
    from optical_st.training import DistillationRecipe

from optical_st.scaling._benchmarks import TrainingBitext, benchmark_language, direction_of, task_of
from optical_st.scaling._parameters import count_layers, count_parameters
from optical_st.scaling._report import load_cells
from optical_st.scaling._specs import (
    CONDITIONS,
    DISTILLED,
    ZERO_SHOT,
    ModelSpec,
    check_unique_names,
    parse_model_spec,
    safe_name,
)

logger = logging.getLogger(__name__)


STUDENT_MARKER = "scaling_recipe.json"  # beside a distilled student's final/: the recipe it was made with


class StaleResultsError(ValueError):
    """The output directory holds cells of a differently configured study (other benchmarks, k or recipe)."""


def _fingerprint(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
        recipe: how each model is distilled (:class:`~optical_st.training.DistillationRecipe`, the one
            ``optical-st train`` uses); with ``training_bitext``, adds the ``"ot-distilled"`` condition.
        training_bitext: the pairs every model is distilled on (:class:`TrainingBitext`).
        teacher: teacher spec (:func:`parse_model_spec`, one model); ``None``: each model's own
            full-depth source (OPTICAL's frozen copy; the untruncated model for a truncated student).
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
            condition, ``"ot-distilled"`` without a recipe and training bitext.

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
        training_bitext: TrainingBitext | None = None,
        teacher: str | None = None,
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
        if DISTILLED in conditions and (recipe is None or training_bitext is None):
            raise ValueError(f"condition {DISTILLED!r} needs a DistillationRecipe and the training bitext")
        self.conditions = list(dict.fromkeys(conditions))
        self.recipe, self.training_bitext, self.teacher = recipe, training_bitext, teacher
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

    def distillation_config(self) -> dict[str, Any]:
        """What a distilled model depends on: the recipe, the training pairs and the teacher."""
        assert self.recipe is not None and self.training_bitext is not None
        recipe = self.recipe.to_dict()
        # where the teacher cache lives changes no number, whether there is one does (float16 teacher outputs);
        # without one the config is as before the field existed, so earlier studies' cells still match
        if recipe.pop("teacher_cache", None) is not None:
            recipe["teacher_cache"] = True
        return {
            "recipe": recipe,
            "bitext": self.training_bitext.to_dict(),
            "teacher": self.teacher,
        }

    def cell_path(self, model: str, condition: str, language: str) -> Path:
        """``output_dir/cells/<model>/<condition>/<language>.json``."""
        return self.output_dir / "cells" / safe_name(model) / condition / f"{language}.json"

    def skip_path(self, model: str, condition: str) -> Path:
        return self.output_dir / "skipped" / f"{safe_name(model)}__{condition}.json"

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
            "recipe": self.distillation_config() if condition == DISTILLED and self.recipe else None,
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
            # where the weights came from: a folder, the Hub, its cache, or an offline rebuild
            served_from = getattr(getattr(model, "optical_st_source", None), "source", None)
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
            write_json(
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
            "served_from": served_from,
            "n_layers": count_layers(model),
            "params_total": parameters.total,
            "params_embedding": parameters.embedding,
            "params_non_embedding": parameters.non_embedding,
        }
        for language in languages:
            config = self.cell_config(spec, condition, language)
            write_json(
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
                    "task": task_of(benchmark),
                    "direction": direction_of(benchmark),
                }
            )
        empty = [lang for lang, found in rows.items() if not found]
        if empty:
            raise RuntimeError(f"the evaluator returned no rows for {empty} (benchmark names changed?)")
        return rows

    def teacher_spec(self, spec: ModelSpec) -> ModelSpec:
        """The frozen teacher of ``spec``: ``teacher`` if given, else ``spec``'s full-depth source."""
        return parse_model_spec(self.teacher)[0] if self.teacher else spec.full_depth()

    def teacher_loaded(self, spec: ModelSpec) -> bool:
        """True if :meth:`load_teacher` holds ``spec``'s teacher already (it is loaded once per study run)."""
        teacher_spec = self.teacher_spec(spec)
        return f"{teacher_spec.source}:{teacher_spec.keep_layers}" in self._teachers

    def load_teacher(self, spec: ModelSpec) -> SentenceTransformer:
        """``spec``'s teacher, frozen, loaded once and kept until :meth:`run` ends."""
        assert self.recipe is not None
        teacher_spec = self.teacher_spec(spec)
        key = f"{teacher_spec.source}:{teacher_spec.keep_layers}"
        if key not in self._teachers:
            teacher = teacher_spec.load(self.device)
            teacher.eval()
            teacher.requires_grad_(False)
            self._teachers[key] = teacher
        return self._teachers[key]

    def training_pairs(self) -> Any:
        """The training bitext (:meth:`TrainingBitext.load`), read once."""
        assert self.training_bitext is not None
        if self._training_bitext is None:
            self._training_bitext = self.training_bitext.load()
        return self._training_bitext

    def _student_config(self, spec: ModelSpec) -> dict[str, Any]:
        return {"model": asdict(spec), "recipe": self.distillation_config()}

    def saved_student(self, spec: ModelSpec) -> Path | None:
        """The ``final/`` folder of ``spec``'s student distilled earlier with this recipe, or ``None``."""
        run_dir = self.checkpoint_dir / safe_name(spec.name)
        marker, final = run_dir / STUDENT_MARKER, run_dir / "final"
        if not (marker.is_file() and (final / "modules.json").is_file()):
            return None
        stored = json.loads(marker.read_text(encoding="utf-8")).get("fingerprint")
        return final if stored == _fingerprint(self._student_config(spec)) else None

    def _distilled(self, spec: ModelSpec, student: SentenceTransformer) -> SentenceTransformer:
        """Distil ``student`` (or reuse the student saved by an earlier, interrupted run)."""
        from sentence_transformers import SentenceTransformer

        assert self.recipe is not None and self.training_bitext is not None
        run_dir = self.checkpoint_dir / safe_name(spec.name)
        config = self._student_config(spec)
        saved = self.saved_student(spec)
        if saved is not None:
            logger.info("reusing the distilled student in %s", saved)
            return SentenceTransformer(str(saved), device=self.device)
        from optical_st.training import benchmark_texts

        distill = self._distill_fn
        if distill is None:
            from optical_st.training import distill
        all_benchmarks = [b for group in self.benchmarks.values() for b in group]
        # the study's run directories are its own: a new attempt replaces an interrupted one, no checkpoints
        recipe = self.recipe.replace(
            save_steps=None, overwrite=True, show_progress_bar=self.show_progress_bar
        )
        final = distill(student, self.load_teacher(spec), self.training_pairs(), recipe, output_dir=run_dir,
                        exclude_texts=benchmark_texts(all_benchmarks))  # fmt: skip
        _, n_processes, state = _process_share()
        if n_processes > 1:
            state.wait_for_everyone()  # the main process has saved the final student
        if state.is_main_process:
            write_json(run_dir / STUDENT_MARKER, {"fingerprint": _fingerprint(config), "config": config})
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
