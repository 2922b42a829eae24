"""Overhead of OTDistillLoss on a real encoder, measured side by side in one run.

Three measurements with multilingual-e5-small as student and as frozen teacher (OPTICAL's setup):

1. Training-step time (forward + backward + AdamW step) of ``OTDistillLoss`` vs sentence-transformers'
   ``MSELoss`` with the same student, teacher and batch. The MSE step includes the teacher's forward
   on the English side (its labels are computed on the fly, as the OT loss does), so both steps do the
   same encoder work and the ratio isolates the token-level OT (cost matrices, batched Sinkhorn,
   backward through the costs). Steps alternate OT/MSE so machine load affects both alike.
2. One batched ``ot.solve_batch`` call vs a Python loop of POT's ``ot.sinkhorn`` (same log-domain
   algorithm, same ``reg``/``max_iter``/``tol``) over the same cost matrices, pair by pair.
3. Peak RSS of a process that runs the same training steps with each loss (separate subprocesses).

Run (heavy: take the shared lock)::

    flock /work/heavy.lock python bench/loss_overhead.py --model /work/cache/me5-small
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

DEFAULT_MODEL = Path("/work/cache/me5-small")
DEFAULT_BITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "floresv1_ne_si"


def load_pairs(bitext: Path, batch_size: int, join: int = 4) -> tuple[list[str], list[str]]:
    """``batch_size`` Nepali-English FLoRes v1 dev pairs, each ``join`` consecutive sentences long.

    Joined sentences exceed 64 tokens on both sides, so every pair is truncated to the full
    ``max_seq_length``: the worst case for the token-level OT (64 x 64 plans).
    """
    english_file, nepali_file = bitext / "wikipedia.dev.ne-en.en", bitext / "wikipedia.dev.ne-en.ne"
    if not english_file.is_file():
        raise SystemExit(
            f"bitext not found: {english_file} (pass --bitext DIR with the FLoRes v1 ne-en files)"
        )
    english = english_file.read_text(encoding="utf-8").splitlines()
    nepali = nepali_file.read_text(encoding="utf-8").splitlines()
    starts = range(0, join * batch_size, join)
    return [" ".join(english[i : i + join]) for i in starts], [" ".join(nepali[i : i + join]) for i in starts]


def build(model_path: Path, max_seq_length: int):
    from sentence_transformers import SentenceTransformer

    if not (model_path / "modules.json").is_file():
        raise SystemExit(
            f"no sentence-transformers model at {model_path}; build multilingual-e5-small as described in "
            "../shared/models/README.md (or tests/conftest.py::build_real_encoder) and pass --model"
        )
    student = SentenceTransformer(str(model_path), device="cpu")
    teacher = SentenceTransformer(str(model_path), device="cpu")
    for model in (student, teacher):
        model.max_seq_length = max_seq_length
    return student, teacher


def make_steps(student, teacher, english, target, reg: float):
    from sentence_transformers.sentence_transformer.losses import MSELoss

    from optical_st.losses import OTDistillLoss

    ot_loss = OTDistillLoss(student, teacher, reg=reg)
    mse_loss = MSELoss(student)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-6)
    english_features, target_features = student.preprocess(english), student.preprocess(target)
    student.train()

    def ot_step() -> float:
        value = ot_loss([dict(english_features), dict(target_features)])
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        return float(value)

    def mse_step() -> float:
        with torch.no_grad():
            labels = teacher(dict(english_features))["sentence_embedding"]
        value = mse_loss([dict(target_features)], labels)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        return float(value)

    return ot_loss, ot_step, mse_step, english_features, target_features


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def worker(args: argparse.Namespace) -> None:
    """Subprocess: run ``args.steps`` steps of one loss, print the peak RSS as JSON."""
    english, target = load_pairs(args.bitext, args.batch_size)
    student, teacher = build(args.model, args.max_seq_length)
    _, ot_step, mse_step, _, _ = make_steps(student, teacher, english, target, args.reg)
    step = ot_step if args.worker == "ot" else mse_step
    for _ in range(args.steps):
        step()
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def solve_comparison(ot_loss, student_mask, teacher_mask, repeats: int) -> dict[str, float]:
    """Time the solve on the cost matrices of the last training step (uniform marginals, as the loss)."""
    import ot

    from optical_st import transport

    costs_padded = ot_loss.last_costs
    a, b = transport.token_marginals(student_mask.bool()), transport.token_marginals(teacher_mask.bool())
    reg, max_iter, tol = ot_loss.reg, ot_loss.max_iter, ot_loss.tol

    def batched() -> None:
        transport.solve_plans(costs_padded, a, b, reg, max_iter=max_iter, tol=tol)

    def batched_pool_threads() -> None:  # the process's torch thread pool, as before the cpu_threads fix
        transport.solve_plans(costs_padded, a, b, reg, max_iter=max_iter, tol=tol, cpu_threads=None)

    pairs = []
    for i in range(costs_padded.shape[0]):
        n, m = int((a[i] > 0).sum()), int((b[i] > 0).sum())
        pairs.append((a[i, :n], b[i, :m], costs_padded[i, :n, :m].contiguous()))

    def loop() -> None:
        # Same thread setting as the batched solve (solve_plans runs single-threaded on CPU).
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for a_i, b_i, cost_i in pairs:
                ot.sinkhorn(a_i, b_i, cost_i, reg, method="sinkhorn_log", numItermax=max_iter, stopThr=tol)
        finally:
            torch.set_num_threads(previous)

    numpy_pairs = [
        (a_i.double().numpy(), b_i.double().numpy(), c_i.double().numpy()) for a_i, b_i, c_i in pairs
    ]

    def loop_pot_defaults() -> None:
        # What a per-pair implementation typically calls: POT's defaults (stopThr=1e-9) on numpy arrays.
        for a_i, b_i, cost_i in numpy_pairs:
            ot.sinkhorn2(a_i, b_i, cost_i, reg)

    batched()  # warm-up
    batched_times, loop_times, default_times, pool_times = [], [], [], []
    for _ in range(repeats):  # interleaved, so load on the shared machine hits all variants alike
        batched_times.append(timed(batched))
        pool_times.append(timed(batched_pool_threads))
        loop_times.append(timed(loop))
        default_times.append(timed(loop_pot_defaults))
    return {
        "batched_s": statistics.median(batched_times),
        "loop_s": statistics.median(loop_times),
        "loop_defaults_s": statistics.median(default_times),
        "batched_pool_s": statistics.median(pool_times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="sentence-transformers model folder"
    )
    parser.add_argument("--bitext", type=Path, default=DEFAULT_BITEXT, help="FLoRes v1 ne/si folder")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per loss (after 1 warm-up each)")
    parser.add_argument("--reg", type=float, default=0.05)
    parser.add_argument("--solve-repeats", type=int, default=7, help="timed repeats of each solve variant")
    parser.add_argument("--worker", choices=["ot", "mse"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    from tqdm.auto import tqdm

    torch.manual_seed(0)
    english, target = load_pairs(args.bitext, args.batch_size)
    student, teacher = build(args.model, args.max_seq_length)
    ot_loss, ot_step, mse_step, english_features, target_features = make_steps(
        student, teacher, english, target, args.reg
    )
    ot_step(), mse_step()  # warm-up
    ot_times, mse_times = [], []
    for _ in tqdm(range(args.steps), desc="training steps (OT, MSE alternating)"):
        ot_times.append(timed(ot_step))
        mse_times.append(timed(mse_step))
    stats = dict(ot_loss.last_stats)
    solve = solve_comparison(
        ot_loss,
        target_features["attention_mask"],
        english_features["attention_mask"],
        repeats=args.solve_repeats,
    )

    rss = {}
    for name in tqdm(("ot", "mse"), desc="peak RSS subprocesses"):
        command = [sys.executable, __file__, "--worker", name, "--model", str(args.model), "--bitext",
                   str(args.bitext), "--batch-size", str(args.batch_size), "--max-seq-length",
                   str(args.max_seq_length), "--steps", "2", "--reg", str(args.reg)]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rss[name] = json.loads(output.strip().splitlines()[-1])["peak_rss_mib"]

    ot_median, mse_median = statistics.median(ot_times), statistics.median(mse_times)
    step_ratio = ot_median / mse_median
    speedup = solve["loop_s"] / solve["batched_s"]
    shape = (english_features["input_ids"].shape[1], target_features["input_ids"].shape[1])
    print()
    print(f"{args.model.name} as student and frozen teacher, B={args.batch_size}, tokens (english, target)={shape}, "
          f"reg={args.reg}, torch threads={torch.get_num_threads()}")  # fmt: skip
    print(f"OT stats on the last step: sinkhorn_iterations={stats['sinkhorn_iterations']:.0f}, "
          f"marginal_error={stats['marginal_error']:.2e}, "
          f"plan_entropy={stats['plan_entropy']:.3f}, plan_sharpness={stats['plan_sharpness']:.3f}")  # fmt: skip
    print()
    print("| measurement | OTDistillLoss | MSELoss / per-pair loop | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| training step, median of {args.steps} (s) | {ot_median:.3f} | {mse_median:.3f} | "
          f"{step_ratio:.2f}x | <= 1.25x {'met' if step_ratio <= 1.25 else 'NOT met'} |")  # fmt: skip
    print(f"| OT solve, {args.batch_size} pairs, median of {args.solve_repeats} (s) | {solve['batched_s']:.4f} (batched) | {solve['loop_s']:.4f} "
          f"(ot.sinkhorn log loop, same reg/max_iter/tol) | {speedup:.0f}x faster | >= 50x {'met' if speedup >= 50 else 'NOT met'} |")  # fmt: skip
    speedup_defaults = solve["loop_defaults_s"] / solve["batched_s"]
    print(f"| OT solve, {args.batch_size} pairs, median of {args.solve_repeats} (s) | {solve['batched_s']:.4f} (batched) | "
          f"{solve['loop_defaults_s']:.4f} (ot.sinkhorn2 loop, POT defaults, numpy) | {speedup_defaults:.0f}x faster | "
          f"(same target) {'met' if speedup_defaults >= 50 else 'NOT met'} |")  # fmt: skip
    print(f"| OT solve, {args.batch_size} pairs, median of {args.solve_repeats} (s) | {solve['batched_s']:.4f} "
          f"(batched, 1 thread) | {solve['batched_pool_s']:.4f} (batched, {torch.get_num_threads()} threads) | "
          f"{solve['batched_pool_s'] / solve['batched_s']:.1f}x faster | - |")  # fmt: skip
    print(f"| peak RSS, 2 steps in a fresh process (MiB) | {rss['ot']:.0f} | {rss['mse']:.0f} | "
          f"{rss['ot'] / rss['mse']:.2f}x | - |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
