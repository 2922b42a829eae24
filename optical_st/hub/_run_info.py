"""The run record next to a trained model (``optical_st_run.json``): what its card says about training."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optical_st._atomic import write_text
from optical_st.hub._cards import as_list, scrub
from optical_st.results import load_rows

RUN_INFO_FILE = "optical_st_run.json"
"""Written next to a trained model by :func:`save_run_info`; :func:`push_model` reads it back."""


@dataclass
class TrainingInfo:
    """What a model card says about training, as documented fields (the record's ``training_info``).

    :func:`optical_st.training.distill` fills every field; a hand-written record (``push_model(...,
    training_info={...})``, ``optical-st push-model --training-info``) may give any of them as a dict.

    Attributes:
        base_model: Hub id the student was initialised from (a local build names the Hub model it
            derives from, from its provenance).
        base_model_license: that model's licence, the card's default licence.
        base_model_note: a caveat about it (e.g. the 4-bit offline build).
        student_argument: the student as given to ``distill`` (may be a local path; never shown).
        teacher: the frozen teacher's Hub id (or, for a local model, what it was called).
        teacher_note: a caveat about the teacher.
        teacher_argument: the teacher as given to ``distill``.
        loss: ``{"name", "config", "citation"}`` of the training loss (a bare name is accepted).
        languages: FLORES codes trained on.
        bitext: one entry per (source, language): ``name``, ``language``, ``pairs`` and, when known,
            ``id`` (a Hub dataset), ``license``, ``citation``, ``url``.
        hyperparameters: the settings the run trained with (objective, steps, learning rate, ...).
        license: the model's licence, when the record names one (it wins over the base model's).
        benchmark_ids: benchmark name -> Hub dataset id, for results that link to their data.
        best_step: the step a ``best/`` checkpoint was saved at.
        extra: any other key of a hand-written record, kept as given.
    """

    base_model: str | None = None
    base_model_license: str | None = None
    base_model_note: str | None = None
    student_argument: str | None = None
    teacher: str | None = None
    teacher_note: str | None = None
    teacher_argument: str | None = None
    loss: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    bitext: list[dict[str, Any]] = field(default_factory=list)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    benchmark_ids: dict[str, str] = field(default_factory=dict)
    best_step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, value: TrainingInfo | Mapping[str, Any] | None) -> TrainingInfo:
        """A record from a dict (secret-looking keys dropped, unknown keys kept in ``extra``) or itself."""
        if isinstance(value, TrainingInfo):
            return value
        data = scrub(dict(value or {}))
        names = {item.name for item in dataclasses.fields(cls)} - {"extra"}
        known = {name: data.pop(name) for name in list(data) if name in names}
        known = {name: value for name, value in known.items() if value is not None}
        loss = known.get("loss")
        if isinstance(loss, str):
            known["loss"] = {"name": loss}
        known["languages"] = list(as_list(known.get("languages")))
        known["bitext"] = [entry for entry in as_list(known.get("bitext")) if isinstance(entry, Mapping)]
        return cls(**known, extra=data)

    @property
    def trained(self) -> bool:
        """Whether the record describes training (a loss or bitext): its card then needs a licence."""
        return bool(self.loss or self.bitext)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values; ``extra`` keys at the top level, as they were given."""
        values = {
            item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "extra"
        }
        return scrub({**values, **self.extra})


def save_run_info(
    directory: str | Path,
    training_info: TrainingInfo | Mapping[str, Any] | None = None,
    evaluation_results: Any = None,
    benchmark_ids: Mapping[str, str] | None = None,
) -> Path:
    """Write ``optical_st_run.json`` (training facts, CLIR rows, benchmark Hub ids) next to a saved model.

    :func:`push_model` reads it when given that directory, so the card of a run pushed later (or by
    ``optical-st push-model``) has the same training details. Secret-looking keys are dropped.
    """
    path = Path(directory) / RUN_INFO_FILE
    payload = {
        "training_info": TrainingInfo.of(training_info).to_dict(),
        "evaluation_results": load_rows(evaluation_results),
        "benchmark_ids": dict(benchmark_ids or {}),
    }
    write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def load_run_info(directory: str | Path) -> dict[str, Any]:
    """The run record of a model folder (``{}`` when it has none); ``training_info`` is a plain dict."""
    path = Path(directory) / RUN_INFO_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}).") from None
