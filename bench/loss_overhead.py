"""Cost of a distillation training step on a real encoder, every variant measured side by side in one run.

multilingual-e5-small as student and as frozen teacher (OPTICAL's setup), ``B`` Nepali-English pairs of
FLoRes v1 dev, each long enough to fill ``--max-seq-length`` tokens on both sides (the worst case for
token-level OT). Training steps (forward, backward, AdamW) of

- ``MSELoss`` (sentence-transformers; the teacher's forward on English included, as the OT loss does it),
- the shipped OT term (``OTDistillLoss(debias=False, reg=0.05, reg_scale="absolute")``),
- the Sinkhorn divergence with the loss's defaults (``OTDistillLoss()``),

each with the input-embedding matrix trained and frozen (96.2M of multilingual-e5-small's 117.5M
parameters; AdamW then neither keeps state for it nor updates it). Steps run round-robin, so machine
load hits every variant alike. Then the OT share of a default step: the cost matrices, the three
Sinkhorn solves and the backward through the costs, timed alone on the step's token embeddings. Last,
the peak RSS of a fresh process during two steps of each variant (after loading).

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
import time
from collections.abc import Callable
from pathlib import Path

import torch

DEFAULT_BITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "floresv1_ne_si"
LOSSES = ("mse", "ot-shipped", "ot-divergence")
SHIPPED_OT = {"debias": False, "reg": 0.05, "reg_scale": "absolute"}


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


def make_step(loss_name: str, student, teacher, english_features, target_features) -> tuple[Callable, object]:
    """One training step of ``loss_name`` on ``student`` (its trainable parameters only)."""
    from sentence_transformers.sentence_transformer.losses import MSELoss

    from optical_st.losses import OTDistillLoss

    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-6)
    if loss_name == "mse":
        loss = MSELoss(student)

        def forward():
            with torch.no_grad():
                labels = teacher(dict(english_features))["sentence_embedding"]
            return loss([dict(target_features)], labels)
    else:
        loss = OTDistillLoss(student, teacher, **(SHIPPED_OT if loss_name == "ot-shipped" else {}))

        def forward():
            return loss([dict(english_features), dict(target_features)])

    def step() -> float:
        value = forward()
        value.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(value)

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


def worker(args: argparse.Namespace) -> None:
    """Subprocess: two steps of one variant, then print their peak RSS as JSON."""
    english, target = load_pairs(args.bitext, args.batch_size)
    student, teacher = (
        load_model(args.model, args.max_seq_length),
        load_model(args.model, args.max_seq_length),
    )
    loss_name, frozen = args.worker.rsplit(":", 1)
    if frozen == "frozen":
        student[0].auto_model.get_input_embeddings().requires_grad_(False)
    step, _ = make_step(loss_name, student, teacher, student.preprocess(english), student.preprocess(target))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model path or Hub id (default: optical-st's default)")
    parser.add_argument("--bitext", type=Path, default=DEFAULT_BITEXT, help="FLoRes v1 ne/si folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 1 warm-up each)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    from tqdm.auto import tqdm

    torch.manual_seed(0)
    english, target = load_pairs(args.bitext, args.batch_size)
    teacher = load_model(args.model, args.max_seq_length)
    teacher.requires_grad_(False)
    students = {"trained": load_model(args.model, args.max_seq_length)}
    students["frozen"] = load_model(args.model, args.max_seq_length)
    students["frozen"][0].auto_model.get_input_embeddings().requires_grad_(False)
    english_features, target_features = teacher.preprocess(english), teacher.preprocess(target)
    steps, losses = {}, {}
    for embeddings, student in students.items():
        student.train()
        for loss_name in LOSSES:
            key = f"{loss_name}:{embeddings}"
            steps[key], losses[key] = make_step(
                loss_name, student, teacher, english_features, target_features
            )
            steps[key]()  # warm-up
    times: dict[str, list[float]] = {key: [] for key in steps}
    for _ in tqdm(range(args.steps), desc="training steps (round-robin over variants)"):
        for key, step in steps.items():
            times[key].append(timed(step))
    median = {key: statistics.median(values) for key, values in times.items()}
    ot_seconds = ot_share(students["frozen"], teacher, english_features, target_features, repeats=args.steps)
    rss = {}
    if not args.no_rss:
        for key in tqdm(steps, desc="peak RSS subprocesses"):
            command = [sys.executable, __file__, "--worker", key, "--bitext", str(args.bitext),
                       "--batch-size", str(args.batch_size), "--max-seq-length", str(args.max_seq_length)]  # fmt: skip
            if args.model:
                command += ["--model", args.model]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rss[key] = json.loads(output.strip().splitlines()[-1])["peak_rss_mib"]

    shape = (english_features["input_ids"].shape[1], target_features["input_ids"].shape[1])
    default_config = losses["ot-divergence:frozen"].get_config_dict()
    print()
    print(f"B={args.batch_size}, tokens (english, target)={shape}, torch threads={torch.get_num_threads()}, "
          f"median of {args.steps} steps; defaults: reg={default_config['reg']}, "
          f"reg_scale={default_config['reg_scale']}, anneal={default_config['anneal']}")  # fmt: skip
    print()
    print(
        "| loss | input embeddings | step (s) | vs MSELoss, same embeddings | frozen speed-up | peak RSS (MiB) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for key in steps:
        loss_name, embeddings = key.split(":")
        vs_mse = median[key] / median[f"mse:{embeddings}"]
        speedup = median[f"{loss_name}:trained"] / median[f"{loss_name}:frozen"]
        memory = f"{rss[key]:.0f}" if key in rss else "-"
        print(f"| {loss_name} | {embeddings} | {median[key]:.3f} | {vs_mse:.2f}x | "
              f"{speedup:.2f}x | {memory} |")  # fmt: skip
    ratio = median["ot-divergence:frozen"] / median["mse:frozen"]
    speedup = median["ot-divergence:trained"] / median["ot-divergence:frozen"]
    print()
    print(f"target: Sinkhorn divergence <= 1.25x MSELoss (frozen embeddings): {ratio:.2f}x, "
          f"{'met' if ratio <= 1.25 else 'NOT met'}")  # fmt: skip
    print(f"target: frozen embeddings >= 1.5x faster (Sinkhorn divergence): {speedup:.2f}x, "
          f"{'met' if speedup >= 1.5 else 'NOT met'}")  # fmt: skip
    print(f"OT share of a default step (frozen embeddings): {ot_seconds:.3f} s of "
          f"{median['ot-divergence:frozen']:.3f} s = {100 * ot_seconds / median['ot-divergence:frozen']:.0f}% "
          f"(cost matrices, 3 Sinkhorn solves, backward through the costs; "
          f"{losses['ot-divergence:frozen'].last_stats['sinkhorn_iterations']:.0f} iterations on the last step)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
