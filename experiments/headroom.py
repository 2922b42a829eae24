"""The OPTICAL experiment where there is room to improve: three settings, four objectives, three seeds.

Settings (:data:`SETTINGS`), each a frozen teacher that encodes English and a student that encodes
Nepali/Sinhala (and, untrained, everything else):

``english-teacher``
    teacher ``sentence-transformers/all-MiniLM-L6-v2`` (English-only vocabulary, trained for retrieval
    on a billion English pairs), student multilingual-e5-small (own tokenizer). OPTICAL's and Reimers &
    Gurevych's setting: the student must learn to write into the teacher's space.
``student-L6`` / ``student-L3``
    teacher multilingual-e5-small (12 layers), student its first 6 / 3 layers (the sentence-transformers
    layer-reduction recipe).

Objectives (:data:`OBJECTIVES`), same pairs, steps, batch, learning rate and seeds: ``mse`` (Reimers &
Gurevych), ``ot-plain`` (OPTICAL's entropic ``<T, C>``, ``debias=False``), ``ot`` (the Sinkhorn
divergence, optical-st's default), ``ot+sentence`` (the divergence plus the sentence-level MSE term,
its weight chosen on a validation split carved from the training bitext). Baselines without training
(:data:`BASELINES`): multilingual-e5-small on both sides, the truncated student zero-shot, the teacher
on both sides (the ceiling), and the English teacher's English->English score on XQuAD-R.

Training bitext: every Nepali and Sinhala pair in ../shared/data (FLoRes v1 dev/devtest/test, TICO-19
Nepali), deduplicated, minus every pair whose English or target side occurs in any evaluation set, minus
a seeded validation split (:data:`VALIDATION_PAIRS` per language). Evaluation (OPTICAL's inference: the
teacher encodes English, the student the other language): FLORES-200 sentence and document level, both
directions, for Nepali and Sinhala (trained) and Hindi, Marathi, Bengali (untrained); NTREX-128
document level, both directions, for Nepali and Sinhala; XQuAD-R Hindi question -> English sentence.

Steps (each resumable; finished cells are reused, a cell interrupted mid-training resumes from its last
checkpoint)::

    python experiments/headroom.py validate --setting student-L6     # choose lr and sentence weight
    python experiments/headroom.py train --setting student-L6 --seeds 0,1,2
    python experiments/headroom.py baselines
    python experiments/headroom_report.py                             # summary.json, tables, plot

``--lock FILE`` takes an exclusive ``flock`` on FILE around every training and evaluation cell, so
other heavy jobs on a shared machine can run between cells. Run from the project root.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RUNS = ROOT / "runs" / "headroom"
RESULTS = ROOT / "docs" / "results" / "headroom"

TRAINED = ("npi_Deva", "sin_Sinh")
UNTRAINED = ("hin_Deva", "mar_Deva", "ben_Beng")
VALIDATION_PAIRS = 250  # per trained language
ME5 = "intfloat/multilingual-e5-small"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"

logger = logging.getLogger("headroom")


@dataclass(frozen=True)
class Setting:
    """A teacher (encodes English) and a student (encodes the other language)."""

    name: str
    teacher: str
    student: str
    student_layers: int | None
    description: str

    def load_teacher(self):
        from optical_st.pretrained import load_sentence_transformer

        teacher = load_sentence_transformer(self.teacher, device="cpu")
        teacher.requires_grad_(False)
        return teacher.eval()

    def load_student(self, path: str | Path | None = None):
        from optical_st.pretrained import load_sentence_transformer
        from optical_st.scaling import truncate_layers

        if path is not None:
            return load_sentence_transformer(str(path), device="cpu")
        student = load_sentence_transformer(self.student, device="cpu")
        return truncate_layers(student, self.student_layers) if self.student_layers else student


SETTINGS = {
    setting.name: setting
    for setting in (
        Setting("english-teacher", MINILM, ME5, None,
                "English retrieval teacher all-MiniLM-L6-v2, student multilingual-e5-small"),
        Setting("student-L6", ME5, ME5, 6, "teacher multilingual-e5-small, student its first 6 layers"),
        Setting("student-L3", ME5, ME5, 3, "teacher multilingual-e5-small, student its first 3 layers"),
        # the rest of the depth ladder (issue 18's trained students), trained with student-L6's recipe
        *(Setting(f"student-L{n}", ME5, ME5, n, f"teacher multilingual-e5-small, student its first {n} layers")
          for n in (2, 4, 9)),
        # OPTICAL's own setup (a frozen copy of the student): a probe of the regime where the student starts
        # aligned with its teacher; near the ceiling on these benchmarks, so not one of the headline settings
        Setting("self-L12", ME5, ME5, None, "teacher and student multilingual-e5-small (OPTICAL's own setup)"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """What every objective of a setting shares; ``sentence_weight`` only matters for ``ot+sentence``."""

    lr: float = 5e-5
    batch_size: int = 16
    max_length: int = 64
    epochs: float = 1.0
    steps: int | None = None
    warmup_ratio: float = 0.1
    sentence_weight: float = 100.0
    freeze_embeddings: bool = True
    group_by_length: bool = True
    max_pairs: int | None = None  # train on the first N pairs of the (shuffled) pool: the low-data regime
    extra: dict[str, Any] = field(default_factory=dict)  # OTDistillLoss options shared by the OT objectives

    def tag(self) -> str:
        length = f"steps{self.steps}" if self.steps else f"ep{self.epochs:g}"
        frozen = "" if self.freeze_embeddings else "-unfrozen"
        batching = "" if self.group_by_length else "-random-batches"
        batching += f"-pairs{self.max_pairs}" if self.max_pairs else ""
        extra = "".join(f"-{k}{v}" for k, v in sorted(self.extra.items()))
        return f"lr{self.lr:g}-b{self.batch_size}-{length}{frozen}{batching}{extra}"


#: objective -> (distill loss, OTDistillLoss options)
OBJECTIVES: dict[str, tuple[str, dict[str, Any]]] = {
    "mse": ("mse", {}),
    "ot-plain": ("ot", {"debias": False}),
    "ot": ("ot", {}),
    "ot+sentence": ("ot+sentence", {}),
    # what optical-st shipped first (issue 12's starting point); for the sanity check, not the tables
    "ot-shipped": ("ot", {"debias": False, "reg": 0.05, "reg_scale": "absolute"}),
}
#: untrained rows: "zero-shot" is the student before training under the trained cells' inference (the teacher
#: encodes English); "zero-shot-both-sides" the truncated model alone, what a user could take instead
BASELINES = ("multilingual-both-sides", "zero-shot", "zero-shot-both-sides", "teacher-both-sides",
             "teacher-english-english")  # fmt: skip


# ------------------------------------------------------------------------------------------ locking
@contextlib.contextmanager
def heavy_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (if given) for the duration of one cell."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        started = time.perf_counter()
        fcntl.flock(handle, fcntl.LOCK_EX)
        waited = time.perf_counter() - started
        if waited > 5:
            logger.info("waited %.0f s for %s", waited, path)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    time.sleep(2)  # let a waiting job take the lock between cells


# ------------------------------------------------------------------------------------------ data
def evaluation_benchmarks(data: Path, untrained: Sequence[str] = UNTRAINED) -> dict[str, list]:
    """Benchmark groups -> benchmarks. Symmetric tasks (translation retrieval) and query -> passage (XQuAD-R).
    FLORES-200 for the trained languages and ``untrained`` (``("all",)``: every other language it has)."""
    from optical_st.data import load_xquad_r
    from optical_st.evaluation import bitext_benchmarks, flores_benchmarks

    languages = "all" if tuple(untrained) == ("all",) else ",".join(TRAINED + tuple(untrained))
    return {
        "flores-sentence": flores_benchmarks(data / "flores200", languages, levels="sentence"),
        "flores-document": flores_benchmarks(data / "flores200", languages, levels="document"),
        "ntrex-document": bitext_benchmarks(data / "ntrex128", ",".join(TRAINED), levels="document"),
        "xquad-r": [load_xquad_r(data / "xquad_r", "hin_Deva", "eng_Latn")],
    }


def training_pool(data: Path, benchmarks: Sequence) -> tuple[Any, Any, dict[str, int]]:
    """(training pairs, validation pairs, counts): all Nepali/Sinhala bitext, deduplicated, minus evaluation texts."""
    from datasets import concatenate_datasets

    from optical_st.data import load_bitext
    from optical_st.training import benchmark_texts, clean_bitext, drop_repeats

    bitext = concatenate_datasets([
        load_bitext(data / "floresv1_ne_si", ["npi", "sin"], split=["dev", "devtest", "test"]),
        load_bitext(data / "tico19", "npi"),
    ])  # fmt: skip
    bitext, counts = clean_bitext(bitext, exclude_texts=benchmark_texts(benchmarks))
    unique = drop_repeats(bitext, ("english", "target"))
    counts["duplicate_pairs"] = len(bitext) - len(unique)
    bitext = unique.shuffle(seed=1234)
    validation_rows, taken = [], dict.fromkeys(TRAINED, 0)
    for index, language in enumerate(bitext["language"]):
        if taken[language] < VALIDATION_PAIRS:
            taken[language] += 1
            validation_rows.append(index)
    validation = bitext.select(validation_rows)
    held = set(validation["english"]) | set(validation["target"])
    train_rows = [
        i for i, (english, target) in enumerate(zip(bitext["english"], bitext["target"], strict=True))
        if i not in set(validation_rows) and english not in held and target not in held
    ]  # fmt: skip
    counts["validation"] = len(validation)
    counts["validation_overlap_dropped"] = len(bitext) - len(validation) - len(train_rows)
    counts["train"] = len(train_rows)
    for language in TRAINED:
        counts[f"train_{language}"] = sum(1 for i in train_rows if bitext[i]["language"] == language)
    return bitext.select(train_rows), validation, counts


def validation_benchmarks(validation) -> list:
    """Sentence retrieval on the held-out training pairs, per language, both directions."""
    from optical_st.data import sentence_retrieval_benchmark

    benchmarks = []
    for language in TRAINED:
        subset = validation.filter(lambda row, code=language: row["language"] == code)
        for direction in ("xx->eng", "eng->xx"):
            benchmarks.append(
                sentence_retrieval_benchmark(subset, direction, name=f"validation-{language}-{direction}")
            )
    return benchmarks


# ------------------------------------------------------------------------------------------ cells
def write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(content, default=float) + "\n", encoding="utf-8")
    partial.replace(path)


def evaluators(groups: dict[str, list], english_encoder: Any, cache_dir: Path | None, n_bootstrap: int):
    """One CLIREvaluator per task family: translation retrieval (``query`` prompt on both sides, E5's guidance
    for symmetric tasks) and XQuAD-R (``query`` / ``passage``). Prompts are names, so each encoder uses its own
    (all-MiniLM-L6-v2 has none)."""
    from optical_st.evaluation import CLIREvaluator

    encoders = None if english_encoder is None else {"eng_Latn": english_encoder}
    common = {"k_values": (1, 5, 10), "batch_size": 64, "n_bootstrap": n_bootstrap, "write_json": False,
              "cache_dir": cache_dir, "language_encoders": encoders, "show_progress_bar": False}  # fmt: skip
    symmetric = [b for name, members in groups.items() if name != "xquad-r" for b in members]
    return {
        "translation": CLIREvaluator(symmetric, name="headroom", query_prompt_name="query",
                                     document_prompt_name="query", **common),
        "qa": CLIREvaluator(groups["xquad-r"], name="headroom", query_prompt_name="query",
                            document_prompt_name="passage", **common),
    }  # fmt: skip


def evaluate_model(model: Any, evaluator_map: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    record: dict[str, Any] = {"metrics": {}, "results": [], "per_query": {}}
    for task, evaluator in evaluator_map.items():
        model.eval()
        record["metrics"].update({f"{task}/{k}": v for k, v in evaluator(model).items()})
        record["results"] += [{**row, "task": task} for row in evaluator.results]
        record["per_query"].update(evaluator.per_query)
    record["eval_seconds"] = round(time.perf_counter() - started, 1)
    return record


def train_student(
    setting: Setting, objective: str, seed: int, recipe: Recipe, bitext: Any, run_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """Distil one student; resume from its last checkpoint if a previous attempt was interrupted."""
    from optical_st.training import DistillationRecipe, distill

    loss, options = OBJECTIVES[objective]
    options = {**recipe.extra, **options} if loss != "mse" else {}
    cost = options.pop("cost", "cosine")  # distill takes the cost itself
    resume = any((run_dir / "checkpoints").glob("checkpoint-*"))
    if recipe.max_pairs:
        bitext = bitext.select(range(min(recipe.max_pairs, len(bitext))))
    training = DistillationRecipe(
        loss=loss, epochs=recipe.epochs, steps=recipe.steps, batch_size=recipe.batch_size,
        max_length=recipe.max_length, lr=recipe.lr, warmup_ratio=recipe.warmup_ratio, seed=seed,
        sentence_weight=recipe.sentence_weight if objective == "ot+sentence" else None,
        cost=cost, loss_options=options, freeze_embeddings=recipe.freeze_embeddings,
        group_by_length=recipe.group_by_length, prompt="query",
        save_steps=250, logging_steps=25, resume_from_checkpoint=True if resume else None,
        overwrite=not resume, show_progress_bar=True,
    )  # fmt: skip
    final = distill(setting.load_student(), setting.load_teacher(), bitext, training, output_dir=run_dir)
    run = json.loads((run_dir / "training_run.json").read_text(encoding="utf-8"))
    return final, run


def training_summary(run: dict[str, Any]) -> dict[str, Any]:
    """What a cell keeps of a run record: timings, counts, loss config and the logged OT diagnostics."""
    history = [
        {k: v for k, v in entry.items() if k in ("step", "loss") or k.startswith("ot/")}
        for entry in run.get("log_history", [])
        if "loss" in entry
    ]
    keep = ("train_seconds", "global_step", "train_loss", "pairs", "loss_config", "batch_size", "lr", "seed",
            "prompt", "teacher_prompt", "frozen_parameters", "max_length", "epochs", "steps")  # fmt: skip
    return {**{k: run.get(k) for k in keep}, "history": history}


def run_cell(
    kind: str,
    setting: Setting,
    objective: str,
    seed: int,
    recipe: Recipe,
    bitext: Any,
    evaluator_map: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Train (unless cached) and evaluate one (setting, objective, seed) cell; ``kind`` is train or validate."""
    label = f"{objective}-w{recipe.sentence_weight:g}" if objective == "ot+sentence" else objective
    cell_dir = args.runs / kind / setting.name / recipe.tag() / f"{label}-seed{seed}"
    cell_file = cell_dir / "cell.json"
    if cell_file.is_file():
        logger.info("%s: cached", cell_file.relative_to(args.runs))
        return json.loads(cell_file.read_text(encoding="utf-8"))
    with heavy_lock(args.lock):  # training and evaluation of one cell under one hold of the lock
        logger.info("%s %s %s seed %d: training (%s)", kind, setting.name, objective, seed, recipe.tag())
        final, run = train_student(setting, objective, seed, recipe, bitext, cell_dir / "run")
        student = setting.load_student(final)
        record = {
            "kind": kind, "setting": asdict(setting), "objective": objective, "seed": seed,
            "recipe": asdict(recipe), "recipe_tag": recipe.tag(), "training": training_summary(run),
            **evaluate_model(student, evaluator_map),
        }  # fmt: skip
    write_json(cell_file, record)
    logger.info("%s: %s", cell_file.relative_to(args.runs), headline(record))
    return record


def headline(record: dict[str, Any]) -> str:
    metrics = record["metrics"]
    keys = [k for k in metrics if k.endswith("macro_recall@1") and "low" not in k and "/" in k]
    return ", ".join(f"{k} {100 * metrics[k]:.1f}" for k in sorted(keys))


# ------------------------------------------------------------------------------------------ commands
def command_train(args: argparse.Namespace) -> None:
    groups = evaluation_benchmarks(args.data, args.untrained_languages)
    bitext, _, counts = training_pool(args.data, [b for members in groups.values() for b in members])
    logger.info("training pool: %s", counts)
    setting = SETTINGS[args.setting]
    recipe = recipe_from_args(args, setting)
    evaluator_map = evaluators(
        groups, setting.load_teacher(), args.runs / "embedding-cache", args.n_bootstrap
    )
    for seed in args.seeds:
        for objective in args.objectives:
            run_cell("train", setting, objective, seed, recipe, bitext, evaluator_map, args)


class Validation:
    """Short runs scored by macro recall@1 of sentence retrieval on the validation pairs (seed 0, both
    directions, the teacher encodes English)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from optical_st.evaluation import CLIREvaluator

        groups = evaluation_benchmarks(args.data, args.untrained_languages)
        self.bitext, validation, self.counts = training_pool(
            args.data, [b for bs in groups.values() for b in bs]
        )
        logger.info("training pool: %s", self.counts)
        self.args, self.setting, self.rows = args, SETTINGS[args.setting], []
        self.evaluators = {
            "validation": CLIREvaluator(
                validation_benchmarks(validation), name="validation", k_values=(1, 5, 10), n_bootstrap=0,
                write_json=False, query_prompt_name="query", document_prompt_name="query",
                show_progress_bar=False, language_encoders={"eng_Latn": self.setting.load_teacher()},
            )
        }  # fmt: skip

    def recipe(self, extra: dict[str, Any] | None = None, **changes: Any) -> Recipe:
        args = self.args
        return Recipe(steps=args.steps, batch_size=args.batch_size, max_length=args.max_length,
                      freeze_embeddings=not args.train_embeddings, extra={**dict(args.loss_option), **(extra or {})},
                      max_pairs=args.max_pairs, **changes)  # fmt: skip

    def score(self, objective: str, recipe: Recipe, seed: int = 0) -> float:
        if objective == "zero-shot":
            record = self.untrained()
        else:
            record = run_cell(
                "validate", self.setting, objective, seed, recipe, self.bitext, self.evaluators, self.args
            )
        name = f"{objective}-w{recipe.sentence_weight:g}" if objective == "ot+sentence" else objective
        history = record["training"]["history"] or [{}]
        key = (name, recipe.tag(), seed)
        self.rows = [row for row in self.rows if (row["name"], row["recipe_tag"], row["seed"]) != key]
        self.rows.append({
            "setting": self.setting.name, "name": name, "objective": objective, "seed": seed, "lr": recipe.lr,
            "sentence_weight": recipe.sentence_weight if objective == "ot+sentence" else None,
            "recipe_tag": recipe.tag(), "steps": recipe.steps,
            "recall@1": record["metrics"]["validation/validation_macro_recall@1"],
            "recall@10": record["metrics"]["validation/validation_macro_recall@10"],
            "train_seconds": record["training"]["train_seconds"],
            "ot_first": {k: v for k, v in history[0].items() if k.startswith("ot/")},
            "ot_last": {k: v for k, v in history[-1].items() if k.startswith("ot/")},
        })  # fmt: skip
        logger.info(
            "validation %s %s seed %d: recall@1 %.4f", name, recipe.tag(), seed, self.rows[-1]["recall@1"]
        )
        return self.rows[-1]["recall@1"]

    def untrained(self) -> dict[str, Any]:
        """The student before training on the validation split (the zero-shot row of a probe)."""
        cell_file = self.args.runs / "validate" / self.setting.name / "zero-shot" / "cell.json"
        if cell_file.is_file():
            return json.loads(cell_file.read_text(encoding="utf-8"))
        with heavy_lock(self.args.lock):
            record = {"kind": "validate", "setting": asdict(self.setting), "objective": "zero-shot", "seed": 0,
                      "recipe": None, "recipe_tag": "untrained", "training": {"history": [], "train_seconds": 0.0},
                      **evaluate_model(self.setting.load_student(), self.evaluators)}  # fmt: skip
        write_json(cell_file, record)
        return record

    def write(self, name: str) -> None:
        write_json(
            self.args.results / f"{name}-{self.setting.name}.json", {"counts": self.counts, "rows": self.rows}
        )
        for row in self.rows:
            sharpness = row["ot_last"].get("ot/plan_sharpness")
            print(f"{row['name']:>22} seed {row['seed']} {row['recipe_tag']:<28} recall@1 {100 * row['recall@1']:.2f}  "
                  f"recall@10 {100 * row['recall@10']:.2f}  ({row['train_seconds']:.0f} s"
                  + (f", sharpness {row['ot_first']['ot/plan_sharpness']:.3f} -> {sharpness:.3f})" if sharpness else ")"))  # fmt: skip


def command_validate(args: argparse.Namespace) -> None:
    """Choose the learning rate, the token cost and the sentence weight of a setting on the validation split.

    In order, each step at the choices before it: (1) every ``--lrs`` for ``mse`` and ``ot``; the learning rate
    is the one best for MSE (the baseline gets its best shot; ties go to the smaller rate); (2) ``ot`` with
    every ``--costs``; the cost is the one best for ``ot``; (3) ``ot-plain``, and ``ot+sentence`` with every
    ``--sentence-weights``; the weight is the best ``ot+sentence`` one. The choice goes to
    ``<results>/chosen.json``, which ``train`` reads.
    """
    validation = Validation(args)
    by_lr = {}
    for lr in args.lrs:
        by_lr[lr] = validation.score("mse", validation.recipe(lr=lr))
        validation.score("ot", validation.recipe(lr=lr))
    lr = max(sorted(by_lr), key=lambda rate: by_lr[rate])
    by_cost = {}
    for cost in args.costs:
        options = {"extra": {"cost": cost}} if cost != "cosine" else {}
        by_cost[cost] = validation.score("ot", validation.recipe(lr=lr, **options))
    cost = max(args.costs, key=lambda name: by_cost[name])  # ties: the first listed
    extra = {"extra": {"cost": cost}} if cost != "cosine" else {}
    validation.score("ot-plain", validation.recipe(lr=lr, **extra))
    by_weight = {weight: validation.score("ot+sentence", validation.recipe(lr=lr, sentence_weight=weight, **extra))
                 for weight in args.sentence_weights}  # fmt: skip
    weight = max(sorted(by_weight), key=lambda w: by_weight[w])
    validation.write("validation")
    chosen_file = args.results / "chosen.json"
    chosen = json.loads(chosen_file.read_text(encoding="utf-8")) if chosen_file.is_file() else {}
    chosen[args.setting] = {
        "lr": lr, "sentence_weight": weight, "loss_options": extra.get("extra", {}), "validation_steps": args.steps,
        "rule": "lr: best MSE validation recall@1; cost: best ot validation recall@1 at that lr; sentence "
        "weight: best ot+sentence validation recall@1 at both",
    }  # fmt: skip
    write_json(chosen_file, chosen)
    print(f"chosen for {args.setting}: lr {lr:g}, cost {cost}, sentence weight {weight:g}")


def command_probe(args: argparse.Namespace) -> None:
    """Score ``--objectives`` at one recipe on the validation split, for every ``--seeds`` (e.g.
    ``--train-embeddings`` vs frozen); the objective ``zero-shot`` scores the untrained student."""
    validation = Validation(args)
    chosen = recipe_from_args(args, validation.setting)
    recipe = validation.recipe(lr=chosen.lr, sentence_weight=chosen.sentence_weight)
    for seed in args.seeds:
        for objective in args.objectives:
            validation.score(objective, recipe, seed=0 if objective == "zero-shot" else seed)
    validation.write(f"probe-{recipe.tag()}")


def command_baselines(args: argparse.Namespace) -> None:
    """Untrained models: e5 on both sides, truncated students, the teachers, MiniLM English->English."""
    from optical_st.data import load_xquad_r
    from optical_st.pretrained import load_sentence_transformer

    groups = evaluation_benchmarks(args.data, args.untrained_languages)
    cache = args.runs / "embedding-cache"
    # (setting, baseline, model, who encodes English: the model itself, or the setting's teacher as in
    # every trained cell, so that "zero-shot" is the trained students' starting point)
    plans: list[tuple[str, str, Any, bool]] = [("english-teacher", "multilingual-both-sides", ME5, False)]
    for name in (name for name, setting in SETTINGS.items() if setting.student_layers):
        plans += [(name, "zero-shot", SETTINGS[name], True), (name, "zero-shot-both-sides", SETTINGS[name], False),
                  (name, "teacher-both-sides", ME5, False)]  # fmt: skip
    evaluated: dict[tuple[str, bool], Path] = {}  # e5 on both sides is every setting's ceiling: scored once
    for setting_name, baseline, model_spec, teacher_english in plans:
        if setting_name not in args.baseline_settings:
            continue
        key = (str(model_spec), teacher_english)
        cell_file = args.runs / "baselines" / setting_name / f"{baseline}.json"
        if cell_file.is_file():
            evaluated.setdefault(key, cell_file)
            continue
        if key in evaluated:
            record = json.loads(evaluated[key].read_text(encoding="utf-8"))
            write_json(
                cell_file, {**record, "setting": asdict(SETTINGS[setting_name]), "objective": baseline}
            )
            continue
        with heavy_lock(args.lock):
            model = model_spec.load_student() if isinstance(model_spec, Setting) else \
                load_sentence_transformer(model_spec, device="cpu")  # fmt: skip
            english = SETTINGS[setting_name].load_teacher() if teacher_english else None
            record = {"kind": "baseline", "setting": asdict(SETTINGS[setting_name]), "objective": baseline,
                      "seed": None, **evaluate_model(model, evaluators(groups, english, cache, args.n_bootstrap))}  # fmt: skip
        write_json(cell_file, record)
        evaluated[key] = cell_file
        logger.info("%s %s: %s", setting_name, baseline, headline(record))
    cell_file = args.runs / "baselines" / "english-teacher" / "teacher-english-english.json"
    if "english-teacher" in args.baseline_settings and not cell_file.is_file():
        with heavy_lock(args.lock):
            teacher = SETTINGS["english-teacher"].load_teacher()
            ceiling = {"xquad-r": [load_xquad_r(args.data / "xquad_r", "eng_Latn", "eng_Latn")]}
            evaluator = evaluators(ceiling, None, cache, args.n_bootstrap)["qa"]
            record = {"kind": "baseline", "setting": asdict(SETTINGS["english-teacher"]),
                      "objective": "teacher-english-english", "seed": None,
                      **evaluate_model(teacher, {"qa": evaluator})}  # fmt: skip
        write_json(cell_file, record)
        logger.info("MiniLM English->English XQuAD-R: %s", headline(record))


def recipe_from_args(args: argparse.Namespace, setting: Setting) -> Recipe:
    """The recipe of a setting: the command line, else what validation chose (docs/results/headroom)."""
    chosen_file = args.results / "chosen.json"
    chosen = (
        json.loads(chosen_file.read_text(encoding="utf-8")).get(setting.name, {})
        if chosen_file.is_file()
        else {}
    )
    return Recipe(
        lr=args.lr if args.lr is not None else chosen.get("lr", Recipe.lr),
        sentence_weight=args.sentence_weight if args.sentence_weight is not None
        else chosen.get("sentence_weight", Recipe.sentence_weight),
        batch_size=args.batch_size, max_length=args.max_length, epochs=args.epochs, steps=args.steps,
        freeze_embeddings=not args.train_embeddings, extra={**chosen.get("loss_options", {}), **dict(args.loss_option)},
    )  # fmt: skip


def loss_option(text: str) -> tuple[str, Any]:
    """``"cost=sqeuclidean"`` -> ``("cost", "sqeuclidean")``; numbers and booleans are parsed as JSON."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("validate", "probe", "train", "baselines"))
    parser.add_argument("--setting", choices=tuple(SETTINGS), default="student-L6")
    parser.add_argument("--baseline-settings", default=",".join(s for s in SETTINGS if s != "self-L12"),
                        type=lambda text: text.split(","), help="baselines: the settings to score")  # fmt: skip
    parser.add_argument("--untrained-languages", default=",".join(UNTRAINED), type=lambda text: tuple(text.split(",")),
                        help="FLORES-200 languages scored besides the trained ones ('all': every one it has); "
                        "give a bigger set its own --runs")  # fmt: skip
    parser.add_argument("--objectives", default="mse,ot-plain,ot,ot+sentence",
                        type=lambda text: [o for o in text.split(",") if o])  # fmt: skip
    parser.add_argument("--seeds", default="0,1,2", type=lambda text: [int(s) for s in text.split(",")])
    parser.add_argument("--lr", type=float, default=None, help="default: chosen on validation")
    parser.add_argument("--lrs", default="5e-5,2e-4,5e-4", type=lambda text: [float(x) for x in text.split(",")],
                        help="validate: learning rates to try")  # fmt: skip
    parser.add_argument("--costs", default="cosine,sqeuclidean", type=lambda text: text.split(","),
                        help="validate: token costs to try for the OT objectives")  # fmt: skip
    parser.add_argument("--sentence-weight", type=float, default=None, help="default: chosen on validation")
    parser.add_argument("--sentence-weights", default="10,100,1000",
                        type=lambda text: [float(x) for x in text.split(",")], help="validate: weights to try")  # fmt: skip
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-pairs", type=int, default=None, help="probe: train on the first N pairs only")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--train-embeddings", action="store_true", help="do not freeze the input embeddings")
    parser.add_argument("--loss-option", action="append", default=[], type=loss_option, metavar="KEY=VALUE",
                        help="an OTDistillLoss option for the OT objectives, e.g. cost=sqeuclidean (repeatable)")  # fmt: skip
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lock", type=Path, default=None, help="flock this file around every cell")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    unknown = [
        o
        for o in args.objectives
        if o not in OBJECTIVES and not (o == "zero-shot" and args.command == "probe")
    ]
    if unknown:
        parser.error(f"unknown objective(s) {unknown}; choose from {', '.join(OBJECTIVES)}")
    if args.command in ("validate", "probe") and args.steps is None:
        args.steps = 300
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    commands = {"train": command_train, "validate": command_validate, "probe": command_probe,
                "baselines": command_baselines}  # fmt: skip
    commands[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
