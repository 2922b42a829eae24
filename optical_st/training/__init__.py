"""Distillation: a :class:`DistillationRecipe` and :func:`distill`, which runs it (``optical-st train``, scaling).

A frozen teacher encodes the English side of the bitext, the student the other side, and the student
is trained with one of three objectives, all through :class:`~sentence_transformers.SentenceTransformerTrainer`
(so through accelerate: ``torchrun``/``accelerate launch`` run the same call data-parallel in several processes):

``"ot"``
    :class:`~optical_st.losses.OTDistillLoss` (OPTICAL, token-level optimal transport).
``"ot+sentence"``
    the same loss plus its sentence-level term (``sentence_weight``, default 1.0).
``"mse"``
    sentence-transformers' :class:`~sentence_transformers.losses.MSELoss` (Reimers & Gurevych 2020):
    ``student(target) ~ teacher(english)`` on pooled embeddings, the teacher's embeddings computed once
    up front. Like the OT loss, the student only sees the non-English side.

Everything a run produces goes under ``output_dir``: ``final/`` (the trained student),
``checkpoints/`` (trainer checkpoints, for ``resume_from_checkpoint``), ``best/`` (when an evaluator
is given, see :class:`~optical_st.callbacks.OTDistillCallback`) and ``training_run.json`` (the
configuration, data counts, timings, the log history and the best metric). ``final/`` and ``best/``
also carry ``optical_st_run.json`` (:func:`optical_st.hub.save_run_info`), so ``optical-st push-model
<output_dir>/final`` writes a model card describing the run.

Example:
    ::

        from optical_st.data import load_bitext
        from optical_st.training import DistillationRecipe, distill

        bitext = load_bitext("../shared/data/floresv1_ne_si", "npi_Deva", split="dev")
        recipe = DistillationRecipe(loss="ot", steps=200, batch_size=16)
        final = distill("intfloat/multilingual-e5-small", "intfloat/multilingual-e5-small", bitext, recipe,
                        output_dir="runs/npi-ot")

Romanized text (``npi_Latn``): :func:`cross_script_pairs` turns native-script text into pairs whose
teacher side is the native sentence (or its English translation) and whose student side is its
romanization, with a share of native pairs; ``distill`` trains on them like on any bitext.
"""

from optical_st.training._batches import LengthGroupedBatchSampler, length_grouped_batches
from optical_st.training._callback import BEST_DIRNAME, BEST_INFO_FILE, LOG_PREFIX, OTDistillCallback
from optical_st.training._cross_script import PAIR_KINDS, TEACHER_SIDES, cross_script_pairs
from optical_st.training._distill import distill
from optical_st.training._guard import TrainingDivergedError
from optical_st.training._pairs import (
    benchmark_texts,
    check_languages_evaluated,
    clean_bitext,
    drop_repeats,
    evaluator_languages,
)
from optical_st.training._recipe import LOSS_NAMES, DistillationRecipe, LossName
from optical_st.training._run_dir import (
    CHECKPOINTS_DIRNAME,
    FINAL_DIRNAME,
    PREVIOUS_RUN_DIRNAME,
    RUN_ENTRIES,
    RUN_FILE,
    OutputDirectoryInUseError,
    RunTerminated,
    check_output_dir,
    prepare_output_dir,
)
from optical_st.training._schedule import Schedule, ScheduleKind
from optical_st.training._trainer import build_loss

__all__ = [
    "BEST_DIRNAME",
    "BEST_INFO_FILE",
    "CHECKPOINTS_DIRNAME",
    "FINAL_DIRNAME",
    "LOG_PREFIX",
    "LOSS_NAMES",
    "PAIR_KINDS",
    "PREVIOUS_RUN_DIRNAME",
    "RUN_ENTRIES",
    "RUN_FILE",
    "TEACHER_SIDES",
    "DistillationRecipe",
    "LengthGroupedBatchSampler",
    "LossName",
    "OTDistillCallback",
    "OutputDirectoryInUseError",
    "RunTerminated",
    "Schedule",
    "ScheduleKind",
    "TrainingDivergedError",
    "benchmark_texts",
    "build_loss",
    "check_languages_evaluated",
    "check_output_dir",
    "clean_bitext",
    "cross_script_pairs",
    "distill",
    "drop_repeats",
    "evaluator_languages",
    "length_grouped_batches",
    "prepare_output_dir",
]
