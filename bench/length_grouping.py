"""Training time with random vs length-grouped batches, measured side by side in one run.

multilingual-e5-small as student and as frozen teacher, frozen input embeddings, the default
``OTDistillLoss`` (and ``MSELoss``), batch 16, 64-token limit, on the first pairs of the shared Nepali and
Sinhala bitext (FLoRes v1 dev). Runs alternate (random, grouped, random, grouped, ...) so machine load
hits both alike; the time is the trainer's own (``train_seconds`` of the run record), without model
loading. Also prints the share of padding positions of each batching, from the student's tokenizer.

Run from the project root (heavy: take the shared lock)::

    flock ../heavy.lock python bench/length_grouping.py --steps 30 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def padding_share(lengths: list[int], batches: list[list[int]]) -> float:
    real = sum(lengths[i] for batch in batches for i in batch)
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    return 1 - real / padded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="student and teacher (default: optical-st's default)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--losses", default="ot,mse")
    args = parser.parse_args()

    import torch
    from datasets import concatenate_datasets

    from optical_st.data import load_bitext
    from optical_st.pretrained import load_sentence_transformer
    from optical_st.training import DistillationRecipe, distill, length_grouped_batches

    def load():
        return (
            load_sentence_transformer(args.model, device="cpu") if args.model else load_sentence_transformer()
        )

    bitext = concatenate_datasets([
        load_bitext(args.data / "floresv1_ne_si", ["npi", "sin"], split="dev"),
    ]).shuffle(seed=0).select(range(args.steps * args.batch_size))  # fmt: skip
    tokenizer = load().tokenizer
    targets = list(bitext["target"])
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    lengths = [
        len(ids)
        for ids in tokenizer(["query: " + t for t in targets], truncation=True, max_length=64)["input_ids"]
    ]
    grouped = length_grouped_batches(lengths, args.batch_size, drop_last=False, seed=0)
    print(f"padding share of the student's positions (64-token limit): random {padding_share(lengths, random_batches):.2f}, "
          f"grouped by token count {padding_share(lengths, grouped):.2f}")  # fmt: skip

    seconds: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.repeats):
        for loss in args.losses.split(","):
            for grouped_batches in (False, True):
                recipe = DistillationRecipe(loss=loss, steps=args.steps, batch_size=args.batch_size, max_length=64,
                                            freeze_embeddings=True, group_by_length=grouped_batches, save_steps=0,
                                            show_progress_bar=False)  # fmt: skip
                with tempfile.TemporaryDirectory() as output:
                    distill(load(), load(), bitext, recipe, output_dir=output)
                    run = json.loads((Path(output) / "training_run.json").read_text(encoding="utf-8"))
                seconds.setdefault((loss, grouped_batches), []).append(run["train_seconds"])
    print(f"\n{args.steps} steps x {args.batch_size} pairs, median of {args.repeats} runs, torch threads "
          f"{torch.get_num_threads()}\n")  # fmt: skip
    print("| loss | random batches (s) | length-grouped (s) | speed-up |")
    print("| --- | --- | --- | --- |")
    for loss in args.losses.split(","):
        plain, grouped_time = (
            statistics.median(seconds[(loss, False)]),
            statistics.median(seconds[(loss, True)]),
        )
        print(f"| {loss} | {plain:.1f} | {grouped_time:.1f} | {plain / grouped_time:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
