"""Where the student's token cloud went: the geometry behind the headroom experiment's validation runs.

For every model given (``label=path``; ``zero-shot`` loads the setting's untrained student), on the
validation pairs of ``experiments/headroom.py`` (carved from the training bitext, never trained on), the
student encodes the target side and the setting's teacher the English side (prompt ``query: ``):

``token_spread``
    1 - mean cosine between two different tokens of one sentence (averaged over sentences): how spread
    the sentence's token cloud is; a cloud pulled to one point goes to 0.
``pooled_similarity``
    mean cosine between the pooled embeddings of two different sentences: 1 means every sentence looks alike.
``matched_margin``
    mean over sentences of cos(student pooled, its translation's teacher pooled) minus the mean cosine to
    the other translations: what retrieval needs.
``token_cos_teacher_mean``
    mean cosine of student tokens to the teacher's mean token: how far tokens sit towards the teacher's
    centre of mass.

The teacher's own values are the first row. Run from the project root::

    python experiments/token_geometry.py --setting student-L6 \\
        zero-shot mse=runs/headroom/validate/student-L6/lr0.0005-b16-steps300/mse-seed0/run/final ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from headroom import DATA, RESULTS, SETTINGS, evaluation_benchmarks, training_pool


def token_clouds(model, texts: list[str], batch_size: int = 32) -> list[torch.Tensor]:
    """Unit-normalised token embeddings per text, special tokens dropped (``[n_tokens, dim]`` each)."""
    clouds = model.encode(texts, prompt_name="query", output_value="token_embeddings", batch_size=batch_size,
                          convert_to_tensor=False, show_progress_bar=False)  # fmt: skip
    return [torch.nn.functional.normalize(cloud[1:-1].float(), dim=-1) for cloud in clouds]


def geometry(clouds: list[torch.Tensor], pooled: torch.Tensor, teacher_pooled: torch.Tensor,
             teacher_mean_token: torch.Tensor) -> dict[str, float]:  # fmt: skip
    spreads = []
    for cloud in clouds:
        n = len(cloud)
        if n > 1:
            cosines = cloud @ cloud.T
            spreads.append(1 - float((cosines.sum() - n) / (n * (n - 1))))
    similarity = pooled @ pooled.T
    n = len(pooled)
    off_diagonal = (similarity.sum() - similarity.diagonal().sum()) / (n * (n - 1))
    cross = pooled @ teacher_pooled.T
    unmatched = (cross.sum(dim=1) - cross.diagonal()) / (n - 1)
    direction = torch.nn.functional.normalize(teacher_mean_token, dim=0)
    return {
        "token_spread": sum(spreads) / len(spreads),
        "pooled_similarity": float(off_diagonal),
        "matched_margin": float((cross.diagonal() - unmatched).mean()),
        "token_cos_teacher_mean": float(torch.cat([cloud @ direction for cloud in clouds]).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="label=path, or zero-shot")
    parser.add_argument("--setting", choices=tuple(SETTINGS), default="student-L6")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--output", type=Path, default=None, help="default: <results>/geometry-<setting>.json"
    )
    args = parser.parse_args(argv)
    setting = SETTINGS[args.setting]
    groups = evaluation_benchmarks(args.data)
    _, validation, _ = training_pool(args.data, [b for members in groups.values() for b in members])
    english, target = list(validation["english"]), list(validation["target"])

    teacher = setting.load_teacher()
    teacher_clouds = token_clouds(teacher, english)
    teacher_pooled = teacher.encode(
        english, prompt_name="query", convert_to_tensor=True, normalize_embeddings=True
    )
    teacher_mean_token = torch.cat(teacher_clouds).mean(dim=0)
    rows = [{"model": "teacher (English side)",
             **geometry(teacher_clouds, teacher_pooled, teacher_pooled, teacher_mean_token)}]  # fmt: skip
    for spec in args.models:
        label, _, path = spec.partition("=")
        student = setting.load_student(path or None)
        pooled = student.encode(
            target, prompt_name="query", convert_to_tensor=True, normalize_embeddings=True
        )
        rows.append({"model": label, **geometry(token_clouds(student, target), pooled, teacher_pooled,
                                                teacher_mean_token)})  # fmt: skip
        print(json.dumps(rows[-1]))
    output = args.output or RESULTS / f"geometry-{args.setting}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"setting": args.setting, "n_pairs": len(english), "rows": rows}, indent=1) + "\n",
                      encoding="utf-8")  # fmt: skip
    print(f"| model | {' | '.join(k for k in rows[0] if k != 'model')} |")
    print("|---|" + "---|" * (len(rows[0]) - 1))
    for row in rows:
        print(f"| {row['model']} | " + " | ".join(f"{v:.3f}" for k, v in row.items() if k != "model") + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
