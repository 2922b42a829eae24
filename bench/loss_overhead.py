"""Cost of a distillation training step on a real encoder, every variant measured side by side in one run.

multilingual-e5-small as the frozen teacher; as student the full model (12 layers) and its first 6
layers (the headroom experiment's student); ``B`` Nepali-English pairs of FLoRes v1 dev, each long enough
to fill ``--max-seq-length`` tokens on both sides. Training steps (forward, backward, AdamW) of

- ``mse-precomputed``: sentence-transformers' ``MSELoss`` with the teacher's labels computed once up
  front (its documented recipe, what :func:`optical_st.training.distill` does for ``loss="mse"``): the
  baseline users run,
- ``mse-teacher``: the same loss with the teacher's forward in the step,
- ``ot``, ``ot+sentence``: ``OTDistillLoss()`` (the Sinkhorn divergence with the loss's defaults),
  without and with its sentence term, each running the teacher in the step and, ``-cached``, reading
  the teacher's outputs from a :class:`~optical_st.teacher_cache.TeacherCache` filled before the timing,

for each student with the input-embedding matrix trained and frozen (96.2M of multilingual-e5-small's
117.5M parameters; AdamW then neither keeps state for it nor updates it). Steps run round-robin, so
machine load hits every variant alike. Then the OT share of a step (the cost matrices, the three Sinkhorn
solves and the backward through the costs, timed alone on the step's token embeddings) and the cache's
share (reading one batch of teacher outputs). Last, optionally, the peak RSS of a fresh process during
two steps of each variant (after loading).

Run from the project root (heavy: take the shared lock)::

    flock ../heavy.lock python bench/loss_overhead.py --steps 5
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

DEFAULT_BITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "floresv1_ne_si"
LOSSES = ("mse-precomputed", "mse-teacher", "ot", "ot-cached", "ot+sentence", "ot+sentence-cached")
STUDENT_LAYERS = {"12-layer": None, "6-layer": 6}
BASELINE = "mse-precomputed"


def load_pairs(bitext: Path, batch_size: int, join: int = 4) -> tuple[list[str], list[str]]:
    """``batch_size`` Nepali-English FLoRes v1 dev pairs, each ``join`` consecutive sentences long."""
    english_file, nepali_file = bitext / "wikipedia.dev.ne-en.en", bitext / "wikipedia.dev.ne-en.ne"
    if not english_file.is_file():
        raise SystemExit(
            f"bitext not found: {english_file} (pass --bitext DIR with the FLoRes v1 ne-en files)"
        )
    english = english_file.read_text(encoding="utf-8").splitlines()
    nepali = nepali_file.read_text(encoding="utf-8").splitlines()
    starts = range(0, join * batch_size, join)
    return [" ".join(english[i : i + join]) for i in starts], [" ".join(nepali[i : i + join]) for i in starts]


def load_model(name: str | None, max_seq_length: int):
    from optical_st.pretrained import load_sentence_transformer

    model = load_sentence_transformer(name, device="cpu") if name else load_sentence_transformer(device="cpu")
    model.max_seq_length = max_seq_length
    return model


def make_step(
    loss_name: str, student, teacher, english_features, target_features, cache_dir: Path
) -> tuple[Callable, object]:
    """One training step of ``loss_name`` on ``student`` (its trainable parameters only)."""
    from sentence_transformers.sentence_transformer.losses import MSELoss

    from optical_st.losses import OTDistillLoss
    from optical_st.teacher_cache import TeacherCache

    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-6)
    if loss_name.startswith("mse"):
        loss = MSELoss(student)
        with torch.no_grad():
            precomputed = teacher(dict(english_features))["sentence_embedding"]

        def forward():
            labels = precomputed
            if loss_name == "mse-teacher":
                with torch.no_grad():
                    labels = teacher(dict(english_features))["sentence_embedding"]
            return loss([dict(target_features)], labels)
    else:
        loss = OTDistillLoss(
            student, teacher, sentence_weight=1.0 if loss_name.startswith("ot+sentence") else 0.0
        )
        if loss_name.endswith("-cached"):  # filled before the timing, as distill() fills it before training
            loss.fill_teacher_cache(TeacherCache(cache_dir, teacher), [english_features])

        def forward():
            return loss([dict(english_features), dict(target_features)])

    def step() -> float:
        value = forward()
        value.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(value.detach())

    return step, loss


def timed(function: Callable) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def ot_share(student, teacher, english_features, target_features, repeats: int) -> float:
    """Seconds of the default OT term alone (costs, three solves, backward through the costs)."""
    from optical_st import transport
    from optical_st.losses import OTDistillLoss

    defaults = OTDistillLoss(student, teacher)
    with torch.no_grad():
        student_out = student(dict(target_features))
        teacher_out = teacher(dict(english_features))
    a = transport.token_marginals(student_out["attention_mask"].bool())
    b = transport.token_marginals(teacher_out["attention_mask"].bool())

    def term() -> None:
        tokens = student_out["token_embeddings"].detach().float().requires_grad_(True)
        value = transport.sinkhorn_divergence(
            tokens, teacher_out["token_embeddings"].float(), a, b, cost=defaults.cost, reg=defaults.reg,
            reg_scale=defaults.reg_scale, max_iter=defaults.max_iter, tol=defaults.tol, anneal=defaults.anneal,
        )  # fmt: skip
        value.value.mean().backward()

    term()
    return statistics.median(timed(term) for _ in range(repeats))


def cache_read_seconds(loss, english_features, repeats: int) -> float:
    """Seconds to read one batch of teacher outputs from the loss's (filled) cache."""
    inputs = loss._teacher_inputs(english_features, english_features["input_ids"].device)
    return statistics.median(
        timed(lambda: loss.teacher_cache.outputs(loss.teacher, inputs)) for _ in range(repeats)
    )


def build_student(model: str | None, max_seq_length: int, layers: int | None, frozen: bool):
    from optical_st.scaling import truncate_layers

    student = load_model(model, max_seq_length)
    if layers is not None:
        truncate_layers(student, layers)
    if frozen:
        student[0].auto_model.get_input_embeddings().requires_grad_(False)
    student.train()
    return student


def worker(args: argparse.Namespace) -> None:
    """Subprocess: two steps of one variant, then print their peak RSS as JSON."""
    english, target = load_pairs(args.bitext, args.batch_size)
    loss_name, student_name, embeddings = args.worker.split(":")
    teacher = load_model(args.model, args.max_seq_length)
    teacher.requires_grad_(False)
    student = build_student(
        args.model, args.max_seq_length, STUDENT_LAYERS[student_name], embeddings == "frozen"
    )
    with tempfile.TemporaryDirectory() as cache_dir:
        step, _ = make_step(loss_name, student, teacher, teacher.preprocess(english), teacher.preprocess(target),
                            Path(cache_dir))  # fmt: skip
        # Loading peaks higher than training (two models, safetensors buffers): reset the high-water mark so
        # the figure is the steps' own (Linux: writing 5 to clear_refs resets VmHWM).
        Path("/proc/self/clear_refs").write_text("5")
        for _ in range(2):
            step()
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model path or Hub id (default: optical-st's default)")
    parser.add_argument("--bitext", type=Path, default=DEFAULT_BITEXT, help="FLoRes v1 ne/si folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 1 warm-up each)")
    parser.add_argument("--students", default="12-layer,6-layer", help="12-layer, 6-layer or both")
    parser.add_argument("--embeddings", default="frozen,trained", help="frozen, trained or both")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    from tqdm.auto import tqdm

    torch.manual_seed(0)
    english, target = load_pairs(args.bitext, args.batch_size)
    teacher = load_model(args.model, args.max_seq_length)
    teacher.requires_grad_(False)
    english_features, target_features = teacher.preprocess(english), teacher.preprocess(target)
    students = {
        (name, embeddings): build_student(args.model, args.max_seq_length, STUDENT_LAYERS[name], embeddings == "frozen")
        for name in args.students.split(",")
        for embeddings in args.embeddings.split(",")
    }  # fmt: skip
    steps, losses = {}, {}
    with tempfile.TemporaryDirectory() as cache_dir:
        for (name, embeddings), student in students.items():
            for loss_name in LOSSES:
                key = f"{loss_name}:{name}:{embeddings}"
                steps[key], losses[key] = make_step(
                    loss_name, student, teacher, english_features, target_features, Path(cache_dir)
                )
                steps[key]()  # warm-up
        times: dict[str, list[float]] = {key: [] for key in steps}
        for _ in tqdm(range(args.steps), desc="training steps (round-robin over variants)"):
            for key, step in steps.items():
                times[key].append(timed(step))
        median = {key: statistics.median(values) for key, values in times.items()}
        shares = {}
        for name, embeddings in students:
            student = students[(name, embeddings)]
            ot_seconds = ot_share(student, teacher, english_features, target_features, repeats=args.steps)
            read_seconds = cache_read_seconds(
                losses[f"ot-cached:{name}:{embeddings}"], english_features, args.steps
            )
            shares[(name, embeddings)] = (ot_seconds, read_seconds)
    rss = {}
    if not args.no_rss:
        for key in tqdm(steps, desc="peak RSS subprocesses"):
            command = [sys.executable, __file__, "--worker", key, "--bitext", str(args.bitext),
                       "--batch-size", str(args.batch_size), "--max-seq-length", str(args.max_seq_length)]  # fmt: skip
            if args.model:
                command += ["--model", args.model]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rss[key] = json.loads(output.strip().splitlines()[-1])["peak_rss_mib"]
    report(args, english_features, target_features, steps, losses, median, shares, rss)
    return 0


def report(args, english_features, target_features, steps, losses, median, shares, rss) -> None:
    shape = (english_features["input_ids"].shape[1], target_features["input_ids"].shape[1])
    some_ot = next(loss for key, loss in losses.items() if key.startswith("ot:"))
    config = some_ot.get_config_dict()
    print()
    print(f"B={args.batch_size}, tokens (english, target)={shape}, torch threads={torch.get_num_threads()}, "
          f"median of {args.steps} steps; defaults: reg={config['reg']}, reg_scale={config['reg_scale']}, "
          f"anneal={config['anneal']}; teacher: 12 layers")  # fmt: skip
    print()
    print(f"| loss | student | input embeddings | step (s) | vs {BASELINE} | peak RSS (MiB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key in steps:
        loss_name, name, embeddings = key.split(":")
        ratio = median[key] / median[f"{BASELINE}:{name}:{embeddings}"]
        memory = f"{rss[key]:.0f}" if key in rss else "-"
        print(f"| {loss_name} | {name} | {embeddings} | {median[key]:.3f} | {ratio:.2f}x | {memory} |")
    print()
    for (name, embeddings), (ot_seconds, read_seconds) in shares.items():
        baseline = median[f"{BASELINE}:{name}:{embeddings}"]
        for loss_name in ("ot-cached", "ot+sentence-cached"):
            ratio = median[f"{loss_name}:{name}:{embeddings}"] / baseline
            print(f"target: {loss_name} <= 1.25x {BASELINE} ({name}, {embeddings} embeddings): {ratio:.2f}x, "
                  f"{'met' if ratio <= 1.25 else 'NOT met'}")  # fmt: skip
        cached = median[f"ot-cached:{name}:{embeddings}"]
        iterations = losses[f"ot-cached:{name}:{embeddings}"].last_stats["sinkhorn_iterations"]
        print(f"  OT term alone {ot_seconds:.3f} s ({100 * ot_seconds / cached:.0f}% of the cached OT step, "
              f"{100 * ot_seconds / baseline:.0f}% of {BASELINE}; {iterations:.0f} iterations on the last step); "
              f"reading the batch from the cache {read_seconds * 1000:.1f} ms; "
              f"cached OT step - {BASELINE} step = {cached - baseline:+.3f} s")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
