"""The scaling study: how parameter count changes recall@k, zero-shot and after OT distillation.

One study is a grid of *cells*, ``model x condition x language``: every model of a size ladder is
evaluated on cross-lingual retrieval benchmarks (:class:`~optical_st.evaluation.CLIREvaluator`), as it
is (``"zero-shot"``) and, given a :class:`~optical_st.training.DistillationRecipe` and a
:class:`TrainingBitext`, after OPTICAL distillation
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
* **Affordable**: :func:`estimate_budget` prints the plan (cells still to run, models, languages,
  distillation steps) and how long it will take on this machine, from load, encoding and
  distillation-step times measured on the study's own models (``optical-st scale --budget``).
* **Several processes** (``accelerate launch``): the ``(model, condition)`` units are dealt out by
  process index (``accelerate.PartialState``); the main process writes the report after all finish.

Outputs (:func:`write_report`): tidy ``results.csv``/``results.json`` (one row per cell x benchmark x
metric), ``models.csv``, ``trends.csv`` (a log-linear fit ``value ~ a + slope * log10(parameters)`` per
language and condition with a 95% confidence interval of the slope, :func:`fit_trends`), a markdown
``report.md`` and plots ``<metric>_vs_<x>.png`` (log x-axis, one line per language, low-resource
languages highlighted, one panel per condition).

Example:
    ::

        from optical_st.scaling import ScalingStudy, TrainingBitext, bitext_benchmarks, write_report
        from optical_st.training import DistillationRecipe

        benchmarks = bitext_benchmarks("shared/data/flores200", ["npi", "sin", "hin"], directions="xx->eng")
        study = ScalingStudy(
            ["ladder:/path/to/multilingual-e5-small:3,6,9,12"],
            benchmarks,
            output_dir="runs/scaling",
            k_values=(1, 5, 10),
            recipe=DistillationRecipe(steps=100),
            training_bitext=TrainingBitext("shared/data/floresv1_ne_si", split="dev"),
        )
        results = study.run()
        write_report(results, "runs/scaling/report", skipped=study.skipped())

References:
    - Huang, Yu, Allan, "Improving Cross-lingual Information Retrieval on Low-Resource Languages via
      Optimal Transport Distillation", WSDM 2023, https://arxiv.org/abs/2301.12566
    - Kaplan et al., "Scaling Laws for Neural Language Models", 2020 (non-embedding parameter counts).
"""

from typing import Any

from optical_st._renamed import renamed
from optical_st.data import bitext_benchmarks
from optical_st.scaling._benchmarks import TrainingBitext, benchmark_language
from optical_st.scaling._budget import Rates, StudyBudget, UnitPlan, estimate_budget, plan_units
from optical_st.scaling._card import push_report, render_report_card
from optical_st.scaling._parameters import ParameterCount, count_layers, count_parameters, truncate_layers
from optical_st.scaling._report import (
    RESULT_COLUMNS,
    X_AXES,
    fit_trends,
    load_cells,
    load_study_results,
    metric_tables,
    models_table,
    plot_scaling,
    trends_markdown,
    write_report,
)
from optical_st.scaling._specs import (
    PRESETS,
    ModelSpec,
    check_unique_names,
    parse_model_spec,
    parse_model_specs,
    split_model_list,
)
from optical_st.scaling._study import CONDITIONS, DISTILLED, ZERO_SHOT, ScalingStudy, StaleResultsError

__all__ = [
    "CONDITIONS",
    "DISTILLED",
    "PRESETS",
    "RESULT_COLUMNS",
    "X_AXES",
    "ZERO_SHOT",
    "ModelSpec",
    "ParameterCount",
    "Rates",
    "ScalingStudy",
    "StaleResultsError",
    "StudyBudget",
    "TrainingBitext",
    "UnitPlan",
    "benchmark_language",
    "bitext_benchmarks",
    "check_unique_names",
    "count_layers",
    "count_parameters",
    "estimate_budget",
    "fit_trends",
    "load_cells",
    "load_study_results",
    "metric_tables",
    "models_table",
    "parse_model_spec",
    "parse_model_specs",
    "plan_units",
    "plot_scaling",
    "push_report",
    "render_report_card",
    "split_model_list",
    "trends_markdown",
    "truncate_layers",
    "write_report",
]

# names of the single scaling.py that moved with issue 17 (docs/DESIGN.md, "One of each")
RENAMED = {
    "DistillationRecipe": "optical_st.training:DistillationRecipe",
    "load_results": "optical_st.scaling:load_study_results",
    "markdown_table": "optical_st.scaling:metric_tables",
}


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, RENAMED)
