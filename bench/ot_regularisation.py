"""What the entropic regularisation does on a real encoder: one table, measured side by side in one run.

multilingual-e5-small (OPTICAL's setup: the same model as frozen teacher on English and as the student
on the other side, before any training), 16 Nepali-English pairs of FLoRes v1 *dev* (training bitext,
never the evaluation sets), 64 tokens, cosine cost, uniform marginals. For each way of setting ``eps``
(:func:`optical_st.transport.pair_reg`) and each annealing setting it reports the plan entropy (nats),
plan sharpness, Sinkhorn iterations, solve time (all three solves of the divergence), the effective
``eps``, the plain entropic value ``<T, C>`` and the Sinkhorn divergence, and whether every pair
converged. A second table shows the bias: the loss with student == teacher on the *same English input*
(ideal alignment), its value and the gradient norm with respect to the student's tokens.

Run from the project root (heavy: take the shared lock)::

    flock ../heavy.lock python bench/ot_regularisation.py            # model: optical-st's default
    python bench/ot_regularisation.py --model PATH_OR_HUB_ID --pairs 16 --max-length 64
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from optical_st import transport

DEFAULT_BITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "floresv1_ne_si"

#: (reg_scale, reg, anneal) rows of the table.
SETTINGS = (
    ("absolute", 0.05, 0),
    ("absolute", 0.02, 0),
    ("absolute", 0.01, 0),
    ("absolute", 0.005, 0),
    ("absolute", 0.005, 4),
    ("mean", 0.2, 0),
    ("mean", 0.1, 0),
    ("mean", 0.05, 0),
    ("spread", 1.0, 0),
    ("spread", 0.5, 0),
    ("spread", 0.25, 0),
    ("spread", 0.1, 0),
    ("spread", 0.1, 3),
    ("spread", 0.05, 4),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="student and teacher (default: optical-st's default)")
    parser.add_argument("--bitext", type=Path, default=DEFAULT_BITEXT, help="FLoRes v1 ne/si folder")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="solve timings: median of this many")
    return parser.parse_args()


def token_batch(model, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    features = model.preprocess([f"query: {text}" for text in texts], max_length=max_length)
    with torch.no_grad():
        out = model(dict(features))
    return out["token_embeddings"].float(), out["attention_mask"].bool()


def main() -> None:
    args = parse_args()
    from optical_st.pretrained import load_sentence_transformer

    torch.manual_seed(0)
    model = load_sentence_transformer(args.model, device="cpu") if args.model else load_sentence_transformer()
    english_file = args.bitext / "wikipedia.dev.ne-en.en"
    nepali_file = args.bitext / "wikipedia.dev.ne-en.ne"
    if not english_file.is_file():
        raise SystemExit(f"bitext not found: {english_file} (pass --bitext with the FLoRes v1 ne-en files)")
    english = english_file.read_text(encoding="utf-8").splitlines()[: args.pairs]
    nepali = nepali_file.read_text(encoding="utf-8").splitlines()[: args.pairs]
    student_tokens, student_mask = token_batch(model, nepali, args.max_length)
    teacher_tokens, teacher_mask = token_batch(model, english, args.max_length)
    a, b = transport.token_marginals(student_mask), transport.token_marginals(teacher_mask)

    costs = transport.cost_matrix(student_tokens, teacher_tokens, "cosine", student_mask, teacher_mask)
    keep = transport.pair_mask(student_mask, teacher_mask)
    valid = costs[keep]
    row_min = costs.masked_fill(~keep, float("inf")).amin(2)[student_mask]
    row_mean = ((costs * keep).sum(2) / keep.sum(2).clamp_min(1))[student_mask]
    n_tokens = student_mask.sum(1).float() * teacher_mask.sum(1).float()
    print(f"model: {getattr(model, 'optical_st_source', None) and model.optical_st_source.describe()}")
    print(f"{args.pairs} FLoRes v1 dev ne-en pairs, {args.max_length} tokens, cosine cost")
    print(
        f"token costs over valid pairs: mean {valid.mean():.3f}, std {valid.std():.3f}, min {valid.min():.3f}, "
        f"max {valid.max():.3f}; per student token cheapest vs mean teacher cost {row_min.mean():.3f} vs "
        f"{row_mean.mean():.3f}; independent-coupling entropy {torch.log(n_tokens).mean():.2f} nats\n"
    )
    print("| reg_scale | reg | anneal | mean eps | entropy (nats) | sharpness | iterations | solve ms "
          "(3 solves) | <T, C> | Sinkhorn divergence | converged |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scale, reg, anneal in SETTINGS:
        options = {
            "cost": "cosine",
            "reg": reg,
            "reg_scale": scale,
            "max_iter": args.max_iter,
            "anneal": anneal,
        }
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            divergence = transport.sinkhorn_divergence(student_tokens, teacher_tokens, a, b, **options)
            times.append(1000 * (time.perf_counter() - started))
        stats = transport.plan_statistics(divergence.plans, divergence.costs, a, b)
        plain = transport.transport_cost(divergence.plans, divergence.costs)
        print(
            f"| {scale} | {reg:g} | {anneal} | {divergence.reg.mean():.4f} | {stats['plan_entropy'].mean():.2f} "
            f"| {stats['plan_sharpness'].mean():.2f} | {divergence.info.n_iter} | {statistics.median(times):.1f} "
            f"| {plain.mean():.4f} | {divergence.value.mean():.4f} | {divergence.info.converged} |"
        )

    print("\nStudent == teacher on the same English input (a perfect alignment should cost nothing):\n")
    print("| OT term | reg_scale | reg | value | gradient norm (student tokens) |")
    print("|---|---|---|---|---|")
    for name in transport.OT_TERMS:
        for scale, reg in (("absolute", 0.05), ("absolute", 0.01), ("spread", 0.25)):
            tokens = teacher_tokens.clone().requires_grad_(True)
            term = transport.ot_term(name, tokens, teacher_tokens, b, b, reg=reg, reg_scale=scale,
                                     max_iter=args.max_iter)  # fmt: skip
            (gradient,) = torch.autograd.grad(term.value.mean(), tokens)
            print(f"| {name} | {scale} | {reg:g} | {term.value.mean():.5f} | {gradient.norm():.5f} |")


if __name__ == "__main__":
    main()
