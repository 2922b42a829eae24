"""The distillation recipe as one function: :func:`distill` (used by ``optical-st train`` and the scaling study).

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
        from optical_st.training import distill

        bitext = load_bitext("../shared/data/floresv1_ne_si", "npi_Deva", split="dev")
        final = distill("intfloat/multilingual-e5-small", "intfloat/multilingual-e5-small", bitext,
                        loss="ot", steps=200, batch_size=16, output_dir="runs/npi-ot")
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from sentence_transformers import SentenceTransformerTrainer
from sentence_transformers.base.sampler import DefaultBatchSampler
from transformers import TrainerCallback

from optical_st.callbacks import BEST_DIRNAME, OTDistillCallback, Schedule
from optical_st.pretrained import model_provenance
from optical_st.search import complete_document_prompt

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

LossName = Literal["ot", "mse", "ot+sentence"]
LOSS_NAMES: tuple[str, ...] = ("ot", "mse", "ot+sentence")
RUN_FILE = "training_run.json"
FINAL_DIRNAME = "final"
CHECKPOINTS_DIRNAME = "checkpoints"
PREVIOUS_RUN_DIRNAME = "previous-run"
# what one run writes into its output_dir (other files there are left alone)
RUN_ENTRIES: tuple[str, ...] = (
    FINAL_DIRNAME, CHECKPOINTS_DIRNAME, BEST_DIRNAME, f"{BEST_DIRNAME}.partial", f"{BEST_DIRNAME}.previous", RUN_FILE,
)  # fmt: skip


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, *, drop_last: bool, seed: int, group_batches: int = 50
) -> list[list[int]]:
    """Batches of similar-length examples, in a random order (the mega-batch scheme of transformers'
    ``LengthGroupedSampler``).

    The indices are shuffled with ``seed``, cut into groups of ``group_batches * batch_size``, each group is
    sorted by length and cut into batches, and the batch order is shuffled again. Every index appears once.

    Args:
        lengths: one length per example (any monotone proxy of its token count).
        batch_size: examples per batch.
        drop_last: drop a final batch smaller than ``batch_size``.
        seed: the shuffles' seed (vary it per epoch).
        group_batches: batches per sorted group: larger groups pad less and shuffle less.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    group = group_batches * batch_size
    batches = []
    for start in range(0, len(order), group):
        members = sorted(order[start : start + group], key=lambda index: lengths[index], reverse=True)
        batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches = [batch for batch in batches if len(batch) == batch_size]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """sentence-transformers batch sampler that groups pairs of similar target length (less padding).

    With random batches of 16 FLoRes/TICO pairs, 40% of the student's token positions were padding (mean
    34 real tokens, 57 padded, multilingual-e5-small tokenizer, 64-token limit); grouping by length cuts
    that, which speeds training on CPU (bench/length_grouping.py). Pass the class, or
    ``functools.partial(LengthGroupedBatchSampler, lengths=...)``, as
    ``SentenceTransformerTrainingArguments(batch_sampler=...)``.

    Args:
        lengths: one length per row, e.g. the student's token counts of the ``target`` column (the side
            with the backward pass); default: character counts of ``target`` (or the first column), a
            rougher proxy across scripts.
    """

    def __init__(self, dataset: Dataset, batch_size: int, drop_last: bool, valid_label_columns=None,
                 generator=None, seed: int = 0, lengths: Sequence[int] | None = None) -> None:  # fmt: skip
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if lengths is None:
            column = "target" if "target" in dataset.column_names else dataset.column_names[0]
            lengths = [len(text) for text in dataset[column]]
        if len(lengths) != len(dataset):
            raise ValueError(f"{len(lengths)} lengths for a dataset of {len(dataset)} rows")
        self.lengths = list(lengths)

    def __iter__(self) -> Iterator[list[int]]:
        yield from length_grouped_batches(
            self.lengths, self.batch_size, drop_last=self.drop_last, seed=self.seed + self.epoch
        )

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1


class OutputDirectoryInUseError(ValueError):
    """``output_dir`` already holds another run (pass ``overwrite=True`` or resume it)."""


def clean_bitext(
    bitext: Dataset,
    *,
    languages: Iterable[str] | None = None,
    exclude_texts: Iterable[str] = (),
) -> tuple[Dataset, dict[str, int]]:
    """Keep the usable training pairs: both sides non-blank, wanted languages, not in evaluation data.

    Args:
        bitext: a dataset with ``english`` and ``target`` columns (and ``language`` when filtering);
            the :func:`optical_st.data.load_bitext` layout.
        languages: keep only these languages (any code :func:`optical_st.languages.normalize_code` reads).
        exclude_texts: sentences that must not be trained on (e.g. every text of the evaluation
            benchmarks); a pair is dropped when its English or target side (stripped) is among them.

    Returns:
        the filtered dataset and counts ``{"input", "blank", "other_language", "overlap", "kept"}``.

    Raises:
        ValueError: a required column is missing, or no pair is left.
    """
    missing = {"english", "target"} - set(bitext.column_names)
    if missing:
        raise ValueError(f"bitext lacks column(s) {sorted(missing)}; it has {bitext.column_names}")
    counts = {"input": len(bitext), "blank": 0, "other_language": 0, "overlap": 0}
    english, target = bitext["english"], bitext["target"]
    keep_languages = None
    if languages is not None:
        from optical_st.languages import normalize_code

        keep_languages = {normalize_code(code) for code in languages}
        if "language" not in bitext.column_names:
            raise ValueError("cannot filter by language: the bitext has no `language` column")
        row_languages = bitext["language"]
    excluded = {text.strip() for text in exclude_texts}
    keep = []
    for index, (source, translation) in enumerate(zip(english, target, strict=True)):
        source, translation = (source or "").strip(), (translation or "").strip()
        if not source or not translation:
            counts["blank"] += 1
        elif keep_languages is not None and row_languages[index] not in keep_languages:
            counts["other_language"] += 1
        elif source in excluded or translation in excluded:
            counts["overlap"] += 1
        else:
            keep.append(index)
    counts["kept"] = len(keep)
    if not keep:
        raise ValueError(
            f"no training pairs left after validation ({counts['input']} input: {counts['blank']} blank, "
            f"{counts['other_language']} in other languages, {counts['overlap']} overlapping the evaluation data)"
        )
    return bitext.select(keep), counts


def benchmark_texts(benchmarks: Iterable[Any]) -> set[str]:
    """Every query and document text of some :class:`~optical_st.data.CLIRBenchmark` objects (stripped)."""
    texts: set[str] = set()
    for benchmark in benchmarks:
        texts.update(text.strip() for text in benchmark.queries["text"])
        texts.update(text.strip() for text in benchmark.corpus["text"])
    return texts


def evaluator_languages(evaluator: Any) -> set[str]:
    """Languages an evaluator covers (query and document side), from its ``benchmarks``."""
    languages: set[str] = set()
    for benchmark in getattr(evaluator, "benchmarks", []):
        benchmark = getattr(benchmark, "benchmark", benchmark)  # CLIREvaluator wraps each benchmark
        languages.update({benchmark.query_language, benchmark.document_language})
    return languages


def check_languages_evaluated(bitext_languages: Iterable[str], evaluated: set[str]) -> None:
    """Refuse to train on a language the evaluation cannot measure (so its effect would go unseen)."""
    missing = sorted(set(bitext_languages) - evaluated)
    if missing:
        raise ValueError(
            f"the bitext has language(s) {missing} that the evaluation benchmarks lack "
            f"(they cover {sorted(evaluated)}); add benchmarks for them or filter the bitext"
        )


def check_output_dir(output_dir: str | Path, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Refuse an ``output_dir`` that holds another run unless ``overwrite`` (or ``resume``); changes nothing."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputDirectoryInUseError(f"output_dir {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (resume or overwrite):
        raise OutputDirectoryInUseError(
            f"output_dir {output_dir} is not empty (another run?); pass --overwrite to replace it "
            "or --resume-from-checkpoint to continue it"
        )
    return output_dir


def prepare_output_dir(output_dir: Path, *, overwrite: bool = False) -> Path | None:
    """Create ``output_dir``; with ``overwrite``, move the run it holds into ``previous-run/``.

    Called once the new run is validated and about to start. The previous run is deleted only when the
    new one has saved its first model (:func:`_discard_previous_run`), and put back if the new one fails
    before that (:func:`_restore_previous_run`). Returns the ``previous-run`` folder, or ``None``.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    present = [output_dir / name for name in RUN_ENTRIES if (output_dir / name).exists()]
    if not overwrite or not present:
        return None
    previous = output_dir / PREVIOUS_RUN_DIRNAME
    if previous.is_dir():
        # An earlier --overwrite was killed before its first save: previous-run/ still holds the run it
        # replaced, and the entries beside it are that attempt's leftovers (no model among them).
        for path in present:
            _remove(path)
        return previous
    previous.mkdir()
    for path in present:
        path.rename(previous / path.name)
    logger.info(
        "moved the previous run in %s aside to %s until the new run saves a model", output_dir, previous
    )
    return previous


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _discard_previous_run(previous: Path | None) -> None:
    if previous is not None and previous.is_dir():
        shutil.rmtree(previous)


def _restore_previous_run(output_dir: Path, previous: Path) -> None:
    """Put the replaced run back (the new run failed before saving any model)."""
    for name in RUN_ENTRIES:
        _remove(output_dir / name)
    for path in previous.iterdir():
        path.rename(output_dir / path.name)
    previous.rmdir()


def _resume_checkpoint(output_dir: Path, resume_from_checkpoint: str | bool | None) -> str | bool | None:
    """Check the checkpoint to resume from before anything is written (a failed resume changes nothing)."""
    if resume_from_checkpoint is True:
        if not any((output_dir / CHECKPOINTS_DIRNAME).glob("checkpoint-*")):
            raise FileNotFoundError(
                f"no checkpoint to resume under {output_dir / CHECKPOINTS_DIRNAME} (the run there is unchanged)"
            )
    elif resume_from_checkpoint and not Path(resume_from_checkpoint).is_dir():
        raise FileNotFoundError(f"checkpoint to resume from not found: {resume_from_checkpoint}")
    return resume_from_checkpoint


def _load_model(model: SentenceTransformer | str | Path) -> SentenceTransformer:
    if isinstance(model, (str, Path)):
        from optical_st.pretrained import load_sentence_transformer

        return load_sentence_transformer(str(model))
    return model


def _label(model: Any) -> str | None:
    if isinstance(model, (str, Path)):
        return str(model)
    source = getattr(model, "optical_st_source", None)
    card = getattr(model, "model_card_data", None)
    return getattr(source, "requested", None) or getattr(card, "base_model", None) or None


def _bitext_summary(bitext: Dataset) -> list[dict[str, Any]]:
    """One entry per (source, language) with its pair count, for the model card."""
    sources = bitext["source"] if "source" in bitext.column_names else ["bitext"] * len(bitext)
    languages = bitext["language"] if "language" in bitext.column_names else [""] * len(bitext)
    counts: dict[tuple[str, str], int] = {}
    for key in zip(sources, languages, strict=True):
        counts[key] = counts.get(key, 0) + 1
    return [
        {"name": name, "language": language, "pairs": n} for (name, language), n in sorted(counts.items())
    ]


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def build_loss(
    kind: LossName,
    student: SentenceTransformer,
    teacher: SentenceTransformer,
    *,
    reg: float | None = None,
    cost: str = "cosine",
    sentence_weight: float | None = None,
    loss_options: Mapping[str, Any] | None = None,
) -> Any:
    """The training loss object for ``kind`` (see the module docstring)."""
    if kind == "mse":
        from sentence_transformers.sentence_transformer.losses import MSELoss

        return MSELoss(student)
    if kind not in ("ot", "ot+sentence"):
        raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")
    from optical_st.losses import OTDistillLoss

    if sentence_weight is None:
        sentence_weight = 1.0 if kind == "ot+sentence" else 0.0
    elif kind == "ot" and sentence_weight != 0.0:
        raise ValueError("loss='ot' has no sentence term; use loss='ot+sentence' to set sentence_weight")
    options = dict(loss_options or {})
    if reg is not None:
        options["reg"] = reg
    return OTDistillLoss(student, teacher, cost=cost, sentence_weight=sentence_weight, **options)


def _training_prompt(student: SentenceTransformer, prompt: str | None) -> str | None:
    """``prompt`` may name one of the student's prompts (e.g. E5's ``"query"``) or be literal text."""
    if prompt is None:
        return None
    prompts = getattr(student, "prompts", None) or {}
    return prompts.get(prompt, prompt if prompt not in ("query", "passage", "document") else None)


def distill(
    student: SentenceTransformer | str | Path,
    teacher: SentenceTransformer | str | Path,
    bitext: Dataset,
    *,
    output_dir: str | Path,
    loss: LossName = "ot",
    steps: int | None = None,
    epochs: float = 1.0,
    batch_size: int = 16,
    max_length: int | None = 128,
    lr: float = 2e-5,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    seed: int = 0,
    reg: float | None = None,
    cost: str = "cosine",
    sentence_weight: float | None = None,
    loss_options: Mapping[str, Any] | None = None,
    schedules: Mapping[str, Schedule] | None = None,
    freeze_embeddings: bool = False,
    group_by_length: bool = True,
    prompt: str | None = "query",
    languages: Iterable[str] | None = None,
    exclude_texts: Iterable[str] = (),
    evaluator: Any = None,
    eval_steps: int | None = None,
    metric: str | None = None,
    hub_model_id: str | None = None,
    push_fn: Callable[..., Any] | None = None,
    save_steps: int | None = 500,
    logging_steps: int = 10,
    report_to: str | list[str] = "none",
    resume_from_checkpoint: str | bool | None = None,
    overwrite: bool = False,
    show_progress_bar: bool = True,
    callbacks: Iterable[Any] = (),
) -> Path:
    """Distil ``teacher`` (English side) into ``student`` (other side) on ``bitext``; return the final model dir.

    Args:
        student: the model to train (a ``SentenceTransformer`` or a name/path for
            :func:`optical_st.pretrained.load_sentence_transformer`). Trained in place.
        teacher: the frozen teacher (same forms). May be the same checkpoint as the student (OPTICAL's
            setup); it is never updated.
        bitext: ``english``/``target`` pairs (:func:`optical_st.data.load_bitext` layout).
        output_dir: run directory (see the module docstring); refused if it holds another run unless
            ``overwrite`` or ``resume_from_checkpoint``.
        loss: ``"ot"``, ``"ot+sentence"`` or ``"mse"``.
        steps: optimizer steps (overrides ``epochs`` when given). The run then uses ``steps x batch_size``
            pairs (per process) drawn by a ``seed``-shuffle of the cleaned bitext, each once.
        epochs: passes over the bitext when ``steps`` is ``None``.
        batch_size: pairs per device per step.
        max_length: token limit of student and teacher in training, applied by the data collator
            (``None``: the models' own). The models' ``max_seq_length`` is left as it is, so evaluation
            during training and the saved models see full-length inputs.
        lr, warmup_ratio, weight_decay, seed: optimisation (linear decay after warm-up; AdamW).
        reg, cost, sentence_weight, loss_options: passed to :class:`~optical_st.losses.OTDistillLoss`
            (``reg=None``: the loss's default; ``loss_options`` e.g. ``{"debias": False}``,
            ``{"reg_scale": "absolute"}``); with ``loss_options={"marginals": "idf"}`` the IDF weights
            are fitted on this run's pairs.
        schedules: loss attribute -> :class:`~optical_st.callbacks.Schedule` (OT losses only).
        freeze_embeddings: keep the student's input (token) embedding matrix fixed. In
            multilingual-e5-small it holds 96.2M of 117.5M parameters, most of them rows that a few
            thousand pairs never touch; frozen, AdamW neither updates nor keeps state for it, and a step
            is 2-3x faster on CPU (bench/loss_overhead.py).
        group_by_length: batches of pairs of similar token count (:class:`LengthGroupedBatchSampler`):
            less padding, 2.5-3x faster on CPU (bench/length_grouping.py); the same pairs each epoch, in
            another batch composition. ``False``: sentence-transformers' random batches.
        prompt: prompt prepended during training: the name of a prompt (default ``"query"``, E5's
            symmetric prompt), resolved by each model on its own side (a teacher without that prompt,
            e.g. all-MiniLM-L6-v2, gets none), or literal text for both sides; ``None`` for no prompt.
        languages: train only on these languages of the bitext.
        exclude_texts: texts never to train on (e.g. :func:`benchmark_texts` of the evaluation).
        evaluator: e.g. a :class:`~optical_st.evaluation.CLIREvaluator`; every bitext language must be
            one it evaluates. Runs every ``eval_steps`` and at the end; the best model by ``metric``
            (default: the evaluator's ``primary_metric``) goes to ``output_dir/best``.
        hub_model_id, push_fn: push each new best model (after saving it locally); a failed push is
            reported and training continues.
        save_steps: trainer checkpoint interval (``None`` or 0: no intermediate checkpoints).
        logging_steps: log interval (loss, ``ot/*`` diagnostics).
        report_to: transformers reporters (``"tensorboard"``, ``"wandb"``, ...).
        resume_from_checkpoint: a checkpoint path, or ``True`` for the latest under ``output_dir``.
        overwrite: replace a previous run in ``output_dir``.
        show_progress_bar: tqdm progress bar for training.
        callbacks: extra ``TrainerCallback`` objects.

    Returns:
        ``output_dir / "final"``, the trained student (a sentence-transformers folder).

    Raises:
        ValueError: unknown loss, teacher and student on different devices, bitext languages the
            evaluation lacks, no usable training pairs.
        OutputDirectoryInUseError: ``output_dir`` holds another run.
    """
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

    # Everything that can be refused is checked before the output directory is touched.
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSS_NAMES)}")
    if steps is not None and steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    if not epochs > 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if max_length is not None and not max_length > 0:
        raise ValueError(f"max_length must be a positive number of tokens (or None), got {max_length}")
    if not 0 <= warmup_ratio <= 1:
        raise ValueError(f"warmup_ratio must be between 0 and 1, got {warmup_ratio}")
    if save_steps is not None and save_steps < 0:
        raise ValueError(f"save_steps must be 0 or more (0: no intermediate checkpoints), got {save_steps}")
    if schedules and loss == "mse":
        raise ValueError("schedules apply to the OT loss's reg/ot_weight/sentence_weight, not to loss='mse'")
    output_dir = check_output_dir(output_dir, overwrite=overwrite, resume=bool(resume_from_checkpoint))
    resume_from_checkpoint = _resume_checkpoint(output_dir, resume_from_checkpoint)

    student_label, teacher_label = _label(student), _label(teacher)
    student, teacher = _load_model(student), _load_model(teacher)
    # Saved checkpoints must encode documents the way they are evaluated (see complete_document_prompt).
    complete_document_prompt(student)
    student_facts, teacher_facts = model_provenance(student), model_provenance(teacher)
    if student is teacher:
        raise ValueError("teacher and student must be two model objects (load the checkpoint twice)")
    if _device(student) != _device(teacher):
        raise ValueError(
            f"teacher is on {_device(teacher)} but student on {_device(student)}; "
            "load both on the same device (the trainer moves them together)"
        )
    teacher.eval()
    teacher.requires_grad_(False)
    max_length = _capped_max_length(max_length, student, teacher)

    bitext, counts = clean_bitext(bitext, languages=languages, exclude_texts=exclude_texts)
    trained_languages = sorted(set(bitext["language"])) if "language" in bitext.column_names else []
    if evaluator is not None:
        check_languages_evaluated(trained_languages, evaluator_languages(evaluator))
        metric = metric or getattr(evaluator, "primary_metric", None)
        name = getattr(evaluator, "name", "")
        if metric and name and not metric.startswith(f"{name}_"):
            metric = f"{name}_{metric}"

    on_cpu = _device(student).type == "cpu"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir / CHECKPOINTS_DIRNAME),
        max_steps=steps if steps is not None else -1,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        weight_decay=weight_decay,
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps,
        logging_first_step=True,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=2,
        report_to=report_to,
        disable_tqdm=not show_progress_bar,
        prompts=None,  # set below, once the prompt is resolved
        dataloader_drop_last=False,
        # A model loaded on the CPU trains there; under torchrun accelerate then runs gloo DDP across the
        # processes (without use_cpu it sees no GPU, no distributed type, and each process trains alone).
        use_cpu=on_cpu,
        # gloo is torch's CPU backend (accelerate would try MPI first when torch was built with it); it may
        # only be named when launched with several processes, else accelerate expects a process group
        ddp_backend="gloo" if on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    world_size = args.world_size  # creating the arguments joined the process group, if launched with several
    is_main = args.process_index == 0
    if steps is not None:
        # A fixed step budget sees at most steps x batch x processes pairs: take them from a seeded shuffle up
        # front, so every objective trains on the same pairs and MSE labels only the pairs it uses.
        needed = steps * batch_size * world_size
        if len(bitext) > needed:
            bitext = bitext.shuffle(seed=seed).select(range(needed))
    elif world_size > 1 and len(bitext) % (batch_size * world_size):
        # Distributed, the trainer drops uneven last batches (and accelerate would pad a shard with repeats):
        # leave the remainder out up front, so that the count below is what was trained on.
        usable = len(bitext) // (batch_size * world_size) * batch_size * world_size
        if usable == 0:
            raise ValueError(
                f"{len(bitext)} training pairs are fewer than one step of {batch_size} pairs x {world_size} processes"
            )
        counts["uneven_remainder"] = len(bitext) - usable
        bitext = bitext.shuffle(seed=seed).select(range(usable))
    counts["used"] = len(bitext)
    logger.info("training pairs: %s (%d process(es))", counts, world_size)

    text_prompt, teacher_prompt = _training_prompt(student, prompt), _training_prompt(teacher, prompt)
    args.prompts = text_prompt
    frozen = _freeze_input_embeddings(student) if freeze_embeddings else []
    loss_object = build_loss(loss, student, teacher, reg=reg, cost=cost, sentence_weight=sentence_weight,
                             loss_options=loss_options)  # fmt: skip
    if world_size > 1 and getattr(loss_object, "projection", None) is not None:
        # OTDistillLoss looks its projection up among the student's modules, which the DDP wrapper hides
        raise ValueError(
            "several processes with a student whose hidden size differs from the teacher's (a learned token "
            "projection) are not supported yet; train in one process"
        )
    if getattr(loss_object, "marginals", None) == "idf":
        # IDF from the pairs this run trains on (teacher side on English, student side on the target)
        loss_object.compute_idf(bitext["english"], bitext["target"])
    if loss == "mse":
        train_dataset = _with_teacher_labels(bitext, teacher, teacher_prompt, batch_size, show_progress_bar)
    else:
        train_dataset = bitext.select_columns(["english", "target"])
    n_steps = (
        steps if steps is not None else math.ceil(len(train_dataset) / (batch_size * world_size) * epochs)
    )
    args.warmup_steps = round(warmup_ratio * n_steps)

    run_info = {
        # Hub ids for the card (the offline e5 build's PROVENANCE.md names intfloat/multilingual-e5-small);
        # the arguments as given (possibly local paths) are kept as "student_argument"/"teacher_argument".
        "base_model": student_facts.get("base_model"),
        "base_model_license": student_facts.get("license"),
        "base_model_note": student_facts.get("note"),
        "student_argument": student_label,
        "teacher": teacher_facts.get("base_model") or teacher_label,
        "teacher_note": teacher_facts.get("note"),
        "teacher_argument": teacher_label,
        "loss": {
            "name": {"mse": "MSELoss"}.get(loss, "OTDistillLoss"),
            "config": loss_object.get_config_dict() if hasattr(loss_object, "get_config_dict") else {},
            "citation": getattr(loss_object, "citation", ""),
        },
        "languages": trained_languages,
        "bitext": _bitext_summary(bitext),
        "hyperparameters": {
            "objective": loss, "steps": steps, "epochs": epochs, "batch_size": batch_size,
            "max_length": max_length, "learning_rate": lr, "warmup_ratio": warmup_ratio,
            "group_by_length": group_by_length, "world_size": world_size,
            "weight_decay": weight_decay, "seed": seed, "prompt": text_prompt, "teacher_prompt": teacher_prompt,
            "frozen_parameters": frozen,
            "schedules": {k: vars(v) for k, v in (schedules or {}).items()},
        },
    }  # fmt: skip
    callback = OTDistillCallback(
        None if loss == "mse" else loss_object,
        schedules=schedules,
        evaluator=evaluator,
        eval_steps=eval_steps if evaluator is not None else None,
        metric=metric,
        output_dir=output_dir,
        hub_model_id=hub_model_id,
        push_fn=push_fn,
        run_info=run_info,
    )
    if group_by_length:
        args.batch_sampler = _length_sampler(student, train_dataset, text_prompt, max_length)
    # max_length truncates in the collator, for training only: the models keep their own max_seq_length,
    # so evaluation, the saved checkpoints and later users see full-length inputs.
    collator_options = {"prompts": text_prompt, "max_length": max_length}
    if loss != "mse" and not loss_object.shared_tokenizer:
        # the teacher must tokenize the English column itself (see OTDistillLoss)
        data_collator = loss_object.data_collator(teacher_prompt=teacher_prompt, **collator_options)
    else:
        data_collator = SentenceTransformerDataCollator(preprocess_fn=student.preprocess, **collator_options)

    # The run starts for real: only now is the output directory changed (by the main process alone).
    bookkeeping = _RunBookkeeping()
    try:
        if is_main:
            bookkeeping.previous_run = prepare_output_dir(
                output_dir, overwrite=overwrite and not resume_from_checkpoint
            )
            _write_run_file(output_dir, {
                "status": "running",
                "loss": loss, "steps": steps, "epochs": epochs, "batch_size": batch_size,
                "max_length": max_length, "group_by_length": group_by_length, "lr": lr,
                "warmup_ratio": warmup_ratio, "weight_decay": weight_decay, "seed": seed,
                "loss_config": loss_object.get_config_dict() if hasattr(loss_object, "get_config_dict") else {},
                "schedules": {k: vars(v) for k, v in (schedules or {}).items()},
                "prompt": text_prompt, "teacher_prompt": teacher_prompt, "frozen_parameters": frozen,
                "languages": trained_languages, "pairs": counts,
                "metric": metric, "eval_steps": eval_steps, "world_size": world_size,
                "evaluator": evaluator.get_config_dict() if hasattr(evaluator, "get_config_dict") else None,
            })  # fmt: skip
        trainer = _DistillTrainer(
            model=student,
            args=args,
            train_dataset=train_dataset,
            loss=loss_object,
            data_collator=data_collator,
            callbacks=[bookkeeping, *callbacks],
        )
        callback.attach(trainer)
        teacher.to(args.device)  # under torchrun / accelerate launch each process trains on its own device
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    except BaseException as error:
        if is_main:
            _record_failure(output_dir, error, bookkeeping.previous_run)
        raise
    seconds = time.perf_counter() - started

    final_dir = output_dir / FINAL_DIRNAME
    if is_main:
        student.save(str(final_dir))
        from optical_st.hub import save_run_info

        final_rows = None
        if (
            evaluator is not None
            and callback.evaluations
            and callback.evaluations[-1]["step"] == result.global_step
        ):
            final_rows = getattr(evaluator, "results", None) or None
        save_run_info(final_dir, run_info, final_rows)
        bookkeeping.model_saved()
        # the mean over every step of the run; transformers' own figure covers this session only
        train_loss = _mean_training_loss(trainer.state.log_history, result.global_step)
        if train_loss is None:
            train_loss = result.training_loss
        run = json.loads((output_dir / RUN_FILE).read_text(encoding="utf-8"))
        run.update({
            "status": "done",
            "train_seconds": round(seconds, 1),
            "global_step": result.global_step,
            "train_loss": train_loss,
            "best": None if callback.best_metric is None else {
                "metric": metric, "value": callback.best_metric, "step": callback.best_step,
                "path": str(callback.best_path),
            },
            "push_errors": callback.push_errors,
            # the loss warned once; the record says how often (a plan cut off at max_iter is approximate)
            "sinkhorn_unconverged_steps": len(callback.unconverged_steps),
            "log_history": trainer.state.log_history,
        })  # fmt: skip
        _write_run_file(output_dir, run)
    # every process returns once final/ exists
    trainer.accelerator.wait_for_everyone()
    return final_dir


def _capped_max_length(
    max_length: int | None, student: SentenceTransformer, teacher: SentenceTransformer
) -> int | None:
    """``max_length`` no longer than either model takes (a longer one overflows the position embeddings)."""
    limits = [limit for limit in (student.max_seq_length, teacher.max_seq_length) if limit]
    if max_length is None or not limits or max_length <= min(limits):
        return None if max_length is None else int(max_length)
    logger.warning(
        "max_length %d is more than the models take (student %s, teacher %s tokens); training uses %d",
        max_length, student.max_seq_length, teacher.max_seq_length, min(limits),
    )  # fmt: skip
    return min(limits)


def _mean_training_loss(log_history: list[dict[str, Any]], global_step: int) -> float | None:
    """Mean loss over steps 1..``global_step`` from the logged windows (each weighted by its steps).

    Covers resumed runs too: the log history comes back with the checkpoint, and
    :class:`_RunBookkeeping` logs at every checkpoint and at the last step, so no step is missing.
    ``None`` when the records do not cover every step.
    """
    total, covered = 0.0, 0
    for entry in log_history:
        if "loss" in entry and entry.get("step", 0) > covered:
            total += float(entry["loss"]) * (entry["step"] - covered)
            covered = entry["step"]
    return total / covered if covered and covered == global_step else None


def _record_failure(output_dir: Path, error: BaseException, previous_run: Path | None) -> None:
    """A run that stops with an exception says so in its record (or gives the replaced run back)."""
    if previous_run is not None and previous_run.is_dir():
        _restore_previous_run(output_dir, previous_run)
        logger.warning(
            "the new run failed before saving a model; the previous run in %s is restored", output_dir
        )
        return
    path = output_dir / RUN_FILE
    run = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    interrupted = isinstance(error, KeyboardInterrupt)
    run.update({
        "status": "interrupted" if interrupted else "failed",
        "error": f"{type(error).__name__}: {error}".strip().rstrip(":"),
    })  # fmt: skip
    _write_run_file(output_dir, run)


class _RunBookkeeping(TrainerCallback):
    """Run-directory duties of :func:`distill` that follow the trainer's steps.

    * Log at every checkpoint and at the last step, so that the log history (which a checkpoint
      carries) covers every step: the whole run's mean loss survives a resume.
    * Delete the run that ``overwrite`` moved aside once this run has saved a model (a checkpoint or
      ``best/``; ``final/`` is reported by :func:`distill` through :meth:`model_saved`).
    """

    def __init__(self) -> None:
        self.previous_run: Path | None = None  # set by distill on the main process

    def model_saved(self) -> None:
        _discard_previous_run(self.previous_run)
        self.previous_run = None

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save or state.global_step >= state.max_steps:
            control.should_log = True
        if state.best_model_checkpoint:  # OTDistillCallback (called first) just saved best/
            self.model_saved()
        return control

    def on_save(self, args, state, control, **kwargs):
        self.model_saved()


class _DistillTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose distributed wrapper also carries the student's tokenizer.

    With several processes the trainer wraps the student in ``DistributedDataParallel`` and
    sentence-transformers puts the wrapper into the loss, so that every forward goes through it and
    the gradients are averaged across processes; it binds ``preprocess`` and
    ``get_embedding_dimension`` onto the wrapper for the losses that read them. ``OTDistillLoss`` also
    reads the student's ``tokenizer`` (its special-token mask), which the wrapper would hide.
    """

    def override_model_in_loss(self, loss: Any, model: Any) -> Any:
        inner = getattr(model, "module", None)
        if inner is not None and hasattr(inner, "tokenizer") and not hasattr(model, "tokenizer"):
            model.tokenizer = inner.tokenizer
        return super().override_model_in_loss(loss, model)


def _length_sampler(
    student: SentenceTransformer, dataset: Dataset, prompt: str | None, max_length: int | None
) -> Callable[..., LengthGroupedBatchSampler]:
    """A :class:`LengthGroupedBatchSampler` factory keyed by the student's token counts of ``target``."""
    texts = [f"{prompt or ''}{text}" for text in dataset["target"]]
    ids = student.tokenizer(texts, truncation=max_length is not None, max_length=max_length)["input_ids"]
    return functools.partial(LengthGroupedBatchSampler, lengths=[len(row) for row in ids])


def _freeze_input_embeddings(student: SentenceTransformer) -> list[str]:
    """Freeze the token embedding matrix of the student's transformer; return the frozen parameter names."""
    embeddings = student[0].auto_model.get_input_embeddings()
    embeddings.requires_grad_(False)
    names = {id(parameter): name for name, parameter in student.named_parameters(remove_duplicate=False)}
    return [names[id(parameter)] for parameter in embeddings.parameters() if id(parameter) in names]


def _with_teacher_labels(
    bitext: Dataset,
    teacher: SentenceTransformer,
    prompt: str | None,
    batch_size: int,
    show_progress_bar: bool,
) -> Dataset:
    """``target`` + ``label`` (the teacher's embedding of ``english``), MSELoss's input layout."""
    embeddings = teacher.encode(
        bitext["english"], prompt=prompt, batch_size=max(batch_size, 32), convert_to_numpy=True,
        show_progress_bar=show_progress_bar,
    )  # fmt: skip
    return bitext.select_columns(["target"]).add_column("label", [row.tolist() for row in embeddings])


def _write_run_file(output_dir: Path, content: Mapping[str, Any]) -> None:
    path = output_dir / RUN_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(content, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)
