"""The scaling study with tiny models: counting, truncation, resume/skip, bad input, report consistency."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from tiny_models import make_tiny_model

from optical_st.cli import main
from optical_st.scaling import (
    DISTILLED,
    ZERO_SHOT,
    ModelSpec,
    ScalingStudy,
    StaleResultsError,
    TrainingBitext,
    bitext_benchmarks,
    count_parameters,
    estimate_budget,
    fit_trends,
    load_study_results,
    parse_model_spec,
    parse_model_specs,
    split_model_list,
    truncate_layers,
    write_report,
)
from optical_st.training import DistillationRecipe

NOUNS = [
    "river",
    "mountain",
    "school",
    "market",
    "temple",
    "village",
    "farmer",
    "teacher",
    "train",
    "festival",
]
WORDS_NE = ["नदी", "पहाड", "विद्यालय", "बजार", "मन्दिर", "गाउँ", "किसान", "शिक्षक", "रेल", "चाड"]
WORDS_SI = ["ගඟ", "කන්ද", "පාසල", "වෙළඳපොළ", "පන්සල", "ගම", "ගොවියා", "ගුරුවරයා", "දුම්රිය", "උත්සවය"]
N_PAIRS = 24


def _write_bitext(directory: Path, offset: int) -> Path:
    english, nepali, sinhala = [], [], []
    for i in range(offset, offset + N_PAIRS):
        a, b = i % 10, (i * 3 + 1) % 10
        english.append(f"the {NOUNS[a]} near the {NOUNS[b]} number {i}")
        nepali.append(f"{WORDS_NE[a]} {WORDS_NE[b]} नजिक {i}")
        sinhala.append(f"{WORDS_SI[a]} {WORDS_SI[b]} ළඟ {i}")
    for name, lines in (("eng_Latn", english), ("npi_Deva", nepali), ("sin_Sinh", sinhala)):
        (directory / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def bitext_dir(tmp_path_factory) -> Path:
    """Evaluation bitext: a line-aligned folder (eng_Latn.txt, npi_Deva.txt, sin_Sinh.txt), 24 pairs."""
    return _write_bitext(tmp_path_factory.mktemp("bitext"), 0)


@pytest.fixture(scope="session")
def train_dir(tmp_path_factory) -> Path:
    """Training bitext disjoint from the evaluation bitext."""
    return _write_bitext(tmp_path_factory.mktemp("train"), 100)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, bitext_dir, train_dir) -> Path:
    """A saved 3-layer tiny SentenceTransformer whose tokenizer knows the bitext."""
    paths = sorted(bitext_dir.glob("*.txt")) + sorted(train_dir.glob("*.txt"))
    texts = [line for path in paths for line in path.read_text().splitlines()]
    directory = tmp_path_factory.mktemp("tiny")
    make_tiny_model(directory, texts, num_layers=3)
    return directory / "model"


@pytest.fixture(scope="session")
def benchmarks(bitext_dir):
    return bitext_benchmarks(bitext_dir, ["npi", "sin"], directions="xx->eng")


def _embedding_size(config) -> int:
    hidden = config.hidden_size
    return (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * hidden


# ---------------------------------------------------------------------------------------------- counting


def test_count_parameters_splits_embedding_and_rest(tiny_dir):
    model = ModelSpec("tiny", str(tiny_dir)).load("cpu")
    config = model[0].auto_model.config
    counts = count_parameters(model)
    assert counts.total == sum(p.numel() for p in model.parameters())
    assert counts.embedding == _embedding_size(config)
    assert counts.non_embedding == counts.total - counts.embedding > 0


def test_count_parameters_counts_tied_weights_once():
    embedding = torch.nn.Embedding(7, 3)
    head = torch.nn.Linear(3, 7, bias=False)
    head.weight = embedding.weight
    counts = count_parameters(torch.nn.ModuleList([embedding, head]))
    assert (counts.total, counts.embedding, counts.non_embedding) == (21, 21, 0)


# ---------------------------------------------------------------------------------------------- truncation


def test_truncate_keeps_first_layers_and_saves(tiny_dir, tmp_path):
    model = ModelSpec("tiny", str(tiny_dir)).load("cpu")
    layers = model[0].auto_model.encoder.layer
    first = {k: v.clone() for k, v in layers[0].state_dict().items()}
    removed = sum(p.numel() for layer in layers[1:] for p in layer.parameters())
    before = count_parameters(model)

    truncate_layers(model, 1)
    after = count_parameters(model)
    assert len(model[0].auto_model.encoder.layer) == 1
    assert model[0].auto_model.config.num_hidden_layers == 1
    assert after.embedding == before.embedding
    assert after.non_embedding == before.non_embedding - removed
    kept = model[0].auto_model.encoder.layer[0].state_dict()
    assert all(torch.equal(kept[k], first[k]) for k in first)

    model.save(str(tmp_path / "cut"))
    reloaded = ModelSpec("cut", str(tmp_path / "cut")).load("cpu")
    assert count_parameters(reloaded) == after
    sentence = ["the river near the school number 3"]
    assert np.allclose(model.encode(sentence), reloaded.encode(sentence), atol=1e-6)


@pytest.mark.parametrize("keep", [0, 4])
def test_truncate_rejects_impossible_depth(tiny_dir, keep):
    model = ModelSpec("tiny", str(tiny_dir)).load("cpu")
    with pytest.raises(ValueError, match=r"1\.\.3"):
        truncate_layers(model, keep)


# ---------------------------------------------------------------------------------------------- specs


def test_parse_model_specs():
    ladder = parse_model_spec("ladder:/m/me5-small:3,6,9,12")
    assert [(s.name, s.source, s.keep_layers) for s in ladder] == [
        (f"me5-small-L{n}", "/m/me5-small", n) for n in (3, 6, 9, 12)
    ]
    (named,) = parse_model_spec("small=truncate:/m/me5-small:6")
    assert (named.name, named.keep_layers) == ("small", 6)
    (default,) = parse_model_spec("truncate:6")
    assert default.source is None and default.keep_layers == 6
    assert len(parse_model_spec("preset:public-families")) == 8
    with pytest.raises(ValueError, match="unknown preset"):
        parse_model_spec("preset:nope")
    with pytest.raises(ValueError, match="positive integers"):
        parse_model_spec("truncate:/m/x:zero")


def test_comma_separated_model_lists():
    """`--models a,b,c` (the family form of docs/scaling.md) is three models; a ladder keeps its counts."""
    family = "intfloat/multilingual-e5-small,intfloat/multilingual-e5-base,intfloat/multilingual-e5-large"
    specs = parse_model_spec(family)
    assert [(s.name, s.source) for s in specs] == [
        (f"multilingual-e5-{size}", f"intfloat/multilingual-e5-{size}") for size in ("small", "base", "large")
    ]
    assert split_model_list("ladder:/m/e5:2,3,x=/a/b, truncate:/m/e5:4") == [
        "ladder:/m/e5:2,3",
        "x=/a/b",
        "truncate:/m/e5:4",
    ]
    assert [s.name for s in parse_model_spec("ladder:/m/e5:2,3,LaBSE=org/LaBSE")] == [
        "e5-L2",
        "e5-L3",
        "LaBSE",
    ]
    with pytest.raises(ValueError, match="duplicate model names"):
        parse_model_specs(["org/m,other/m"])


def test_duplicate_model_names_are_rejected():
    with pytest.raises(ValueError, match=r"duplicate model names.*me5-small"):
        parse_model_specs(["/a/me5-small", "/b/me5-small"])
    with pytest.raises(ValueError, match="duplicate model names"):
        parse_model_specs(["ladder:/a/m:3,6", "m-L3=/b/other"])
    assert len(parse_model_specs(["a=/a/me5-small", "b=/b/me5-small"])) == 2


# ---------------------------------------------------------------------------------------------- bad input


def test_missing_language_is_a_clear_error(bitext_dir, benchmarks, tiny_dir, tmp_path):
    with pytest.raises(ValueError, match=r"no benchmark for language.*tam_Taml"):
        ScalingStudy([str(tiny_dir)], benchmarks, tmp_path, languages=["npi", "tam"])
    with pytest.raises(ValueError, match=r"Tamil|tam_Taml"):
        bitext_benchmarks(bitext_dir, ["npi", "tam"])
    with pytest.raises(ValueError, match="needs a DistillationRecipe and the training bitext"):
        ScalingStudy([str(tiny_dir)], benchmarks, tmp_path, conditions=[ZERO_SHOT, DISTILLED])


# ---------------------------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory, tiny_dir, benchmarks, train_dir):
    """Three models (full, truncated to 1 layer, one that cannot load), zero-shot and OT-distilled."""
    output = tmp_path_factory.mktemp("study")
    models = [f"tiny={tiny_dir}", f"truncate:{tiny_dir}:1", "broken=/nonexistent/model"]
    recipe = DistillationRecipe(steps=2, batch_size=4, lr=1e-3, reg=0.05, freeze_embeddings=True)
    training = TrainingBitext(str(train_dir), languages=("npi",), max_pairs=8)
    study = ScalingStudy(models, benchmarks, output, k_values=(1, 5, 10), recipe=recipe, training_bitext=training,
                         n_bootstrap=50, device="cpu", show_progress_bar=False)  # fmt: skip
    results = study.run()
    return study, results


def test_study_writes_one_cell_per_model_condition_language(finished_study):
    study, results = finished_study
    cells = sorted(
        p.relative_to(study.output_dir).as_posix() for p in study.output_dir.glob("cells/*/*/*.json")
    )
    expected = sorted(
        f"cells/{model}/{condition}/{language}.json"
        for model in ("tiny", "model-L1")
        for condition in (ZERO_SHOT, DISTILLED)
        for language in ("npi_Deva", "sin_Sinh")
    )
    assert cells == expected
    assert set(results["model"]) == {"tiny", "model-L1"}
    assert results["value"].between(0, 1).all()
    # the distilled student was trained: non-embedding weights moved, frozen embeddings did not
    original = ModelSpec("tiny", study.specs[0].source).load("cpu")
    trained = ModelSpec("tiny", str(study.checkpoint_dir / "tiny" / "final")).load("cpu")
    before, after = original[0].auto_model, trained[0].auto_model
    assert torch.equal(before.embeddings.word_embeddings.weight, after.embeddings.word_embeddings.weight)
    assert not torch.equal(
        before.encoder.layer[0].attention.self.query.weight,
        after.encoder.layer[0].attention.self.query.weight,
    )


def test_unloadable_model_is_skipped_with_reason(finished_study):
    study, _ = finished_study
    skipped = study.skipped()
    assert {(r["model"], r["condition"], r["stage"]) for r in skipped} == {
        ("broken", ZERO_SHOT, "load"),
        ("broken", DISTILLED, "load"),
    }
    assert all("/nonexistent/model" in r["reason"] for r in skipped)


def test_rerun_skips_finished_cells(finished_study, monkeypatch):
    study, results = finished_study
    loaded = []
    original = ModelSpec.load

    def counting_load(self, device=None):
        loaded.append(self.name)
        return original(self, device)

    monkeypatch.setattr(ModelSpec, "load", counting_load)
    again = ScalingStudy(study.specs[:2], [b for g in study.benchmarks.values() for b in g], study.output_dir,
                         k_values=study.k_values, recipe=study.recipe, training_bitext=study.training_bitext,
                         n_bootstrap=50, device="cpu", show_progress_bar=False)  # fmt: skip
    rerun = again.run()
    assert loaded == []
    pd.testing.assert_frame_equal(rerun.reset_index(drop=True), results.reset_index(drop=True))

    # one missing cell: only that model is loaded again (the distilled student is reused, not retrained)
    cell = again.cell_path("model-L1", DISTILLED, "sin_Sinh")
    before = json.loads(cell.read_text())
    cell.unlink()
    again = ScalingStudy(study.specs[:2], [b for g in study.benchmarks.values() for b in g], study.output_dir,
                         k_values=study.k_values, recipe=study.recipe, training_bitext=study.training_bitext,
                         n_bootstrap=50, device="cpu", show_progress_bar=False,
                         distill_fn=lambda *a, **k: pytest.fail("retrained a saved student"))  # fmt: skip
    again.run()
    assert loaded == ["model-L1"]
    after = json.loads(cell.read_text())
    assert after["rows"] == before["rows"]


def test_changed_configuration_is_not_mixed_in(finished_study):
    study, _ = finished_study
    changed = ScalingStudy(study.specs[:1], [b for g in study.benchmarks.values() for b in g], study.output_dir,
                           k_values=(1, 10), show_progress_bar=False)  # fmt: skip
    with pytest.raises(StaleResultsError, match="different study configuration"):
        changed.run()


# ---------------------------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def report_files(finished_study, tmp_path_factory) -> dict[str, Path]:
    study, results = finished_study
    directory = tmp_path_factory.mktemp("report")
    return write_report(results, directory, k=10, skipped=study.skipped(), command="optical-st scale ...")


def test_report_matches_cells(finished_study, report_files):
    study, _ = finished_study
    files = report_files
    for name in ("results.csv", "results.json", "models.csv", "trends.csv", "report.md"):
        assert files[name].is_file()
    pngs = [p for p in files if p.endswith(".png")]
    assert len(pngs) == 2 * len(study.k_values) and all(files[p].read_bytes()[:4] == b"\x89PNG" for p in pngs)

    from_cells = load_study_results(study.output_dir)
    from_csv = pd.read_csv(files["results.csv"])
    key = ["model", "condition", "language", "metric", "k"]
    merged = from_csv.merge(from_cells, on=key, suffixes=("_csv", "_cell"))
    assert len(merged) == len(from_cells) == len(from_csv)
    assert np.allclose(merged["value_csv"], merged["value_cell"])

    # every table cell is the cell file's value
    report = files["report.md"].read_text()
    for cell_path in study.output_dir.glob("cells/*/*/npi_Deva.json"):
        cell = json.loads(cell_path.read_text())
        value = next(r["value"] for r in cell["rows"] if r["metric"] == "recall" and r["k"] == 10)
        assert f"{value:.3f}" in next(line for line in report.splitlines() if line.startswith("| Nepali"))
    assert "broken" in report and "/nonexistent/model" in report

    # models.csv carries the counts of the models as loaded
    models = pd.read_csv(files["models.csv"])
    tiny = count_parameters(ModelSpec("tiny", str(study.specs[0].source)).load("cpu"))
    row = models[models["model"] == "tiny"].iloc[0]
    assert (row["params_total"], row["params_embedding"]) == (tiny.total, tiny.embedding)


def test_trend_fit_matches_scipy_on_cell_values(finished_study, tmp_path, tiny_dir):
    study, _ = finished_study
    # a third size so the fit has a confidence interval (t with 1 degree of freedom)
    extra = ScalingStudy([f"truncate:{tiny_dir}:2"], [b for g in study.benchmarks.values() for b in g],
                         study.output_dir, k_values=study.k_values, n_bootstrap=50, device="cpu",
                         show_progress_bar=False)  # fmt: skip
    extra.run()
    everything = load_study_results(study.output_dir)
    trends = fit_trends(
        everything[everything["condition"] == ZERO_SHOT], "recall", 10, "params_non_embedding"
    )
    assert set(trends["language"]) == {"npi_Deva", "sin_Sinh"}
    for row in trends.itertuples():
        cells = everything[
            (everything["language"] == row.language) & (everything["condition"] == ZERO_SHOT)
            & (everything["metric"] == "recall") & (everything["k"] == 10)
        ]  # fmt: skip
        x = np.log10(cells["params_non_embedding"].to_numpy(float))
        fit = stats.linregress(x, cells["value"].to_numpy(float))
        assert row.n_models == 3
        assert math.isclose(row.slope, fit.slope, abs_tol=1e-12)
        assert math.isclose(row.fitted_change, fit.slope * (x.max() - x.min()), abs_tol=1e-12)
        half = stats.t.ppf(0.975, 1) * fit.stderr
        if fit.stderr > 0:
            assert math.isclose(row.ci_high - row.ci_low, 2 * half, rel_tol=1e-9)
            assert row.ci_low < row.slope < row.ci_high


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_runs_and_reports(bitext_dir, tiny_dir, tmp_path, capsys):
    code = main([
        "scale", "--models", f"a={tiny_dir}", f"b=truncate:{tiny_dir}:1", "--benchmark", str(bitext_dir),
        "--languages", "npi", "--output-dir", str(tmp_path / "out"), "--n-bootstrap", "0", "--no-progress",
        "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    report = (tmp_path / "out" / "report" / "report.md").read_text()
    assert "optical-st scale --models" in report and "--languages npi" in report
    assert len(list((tmp_path / "out" / "cells").glob("*/*/*.json"))) == 2


def test_a_diverged_model_is_skipped_never_reported(bitext_dir, tiny_dir, tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_dir), device="cpu")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    model.save(str(tmp_path / "diverged"))
    code = main([
        "scale", "--models", f"a={tiny_dir}", f"nan={tmp_path / 'diverged'}", "--benchmark", str(bitext_dir),
        "--languages", "npi", "--output-dir", str(tmp_path / "out"), "--n-bootstrap", "0", "--no-progress",
        "--device", "cpu",
    ])  # fmt: skip
    assert code == 3  # report written, a model skipped
    assert "skipped nan (zero-shot, load): " in capsys.readouterr().err
    assert [p.parent.parent.name for p in (tmp_path / "out" / "cells").glob("*/*/*.json")] == ["a"]


def test_cli_duplicate_names_fail_before_work(tmp_path, capsys):
    code = main(
        ["scale", "--models", "/a/m", "/b/m", "--benchmark", "x", "--output-dir", str(tmp_path / "o")]
    )
    assert code == 1
    assert "duplicate model names" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------- budget


def _distill_args(train_dir: Path) -> list[str]:
    return ["--distill-bitext", str(train_dir), "--distill-languages", "npi", "--distill-max-pairs", "8",
            "--distill-steps", "2", "--distill-batch-size", "4", "--distill-lr", "1e-3",
            "--distill-freeze-embeddings"]  # fmt: skip


def test_budget_prints_the_plan_and_runs_nothing(bitext_dir, train_dir, tiny_dir, tmp_path, capsys):
    output = tmp_path / "out"
    code = main([
        "scale", "--models", f"a={tiny_dir}", f"b=truncate:{tiny_dir}:1", "broken=/nonexistent/model",
        "--benchmark", str(bitext_dir), "--languages", "npi,sin", "--output-dir", str(output),
        "--n-bootstrap", "0", "--device", "cpu", *_distill_args(train_dir), "--budget",
    ])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    out = printed.out
    assert "plan: 3 model(s) x 2 condition(s) x 2 language(s) = 12 cells; 0 finished, 12 to run" in out
    assert "models: a, b, broken" in out and "languages: npi_Deva, sin_Sinh" in out
    assert "distillation (ot): 8 training pairs; 3 student(s) to train, 2 steps each" in out
    assert "broken" in out and "cannot be measured, the study would skip it" in out
    assert re.search(r"^estimate: .+ on this machine \(zero-shot .+, ot-distilled .+\)", out, re.MULTILINE)
    assert "measuring models" in printed.err  # a progress bar while the models are timed
    # nothing of the measurement is kept: no cell, no checkpoint, no student
    assert not list(output.rglob("*.json")) and not (output / "checkpoints").exists()


def test_max_minutes_stops_before_any_cell(bitext_dir, tiny_dir, tmp_path, capsys):
    output = tmp_path / "out"
    args = ["scale", "--models", f"a={tiny_dir}", "--benchmark", str(bitext_dir), "--languages", "npi",
            "--output-dir", str(output), "--n-bootstrap", "0", "--device", "cpu", "--no-progress"]  # fmt: skip
    assert main([*args, "--max-minutes", "0.00001"]) == 1
    printed = capsys.readouterr()
    assert "more than --max-minutes 1e-05; nothing was run" in printed.err
    assert "plan: 1 model(s) x 1 condition(s) x 1 language(s) = 1 cells" in printed.out
    assert not (output / "cells").exists()
    # within the limit the study runs, and the report's command does not carry the limit
    assert main([*args, "--max-minutes", "600"]) == 0
    assert (output / "cells" / "a" / ZERO_SHOT / "npi_Deva.json").is_file()
    assert "--max-minutes" not in (output / "report" / "report.md").read_text()


def test_budget_of_a_partly_finished_study(finished_study):
    """Resumable: only missing cells are planned; a saved student is reused, not retrained."""
    study, _ = finished_study
    again = ScalingStudy(study.specs[:2], [b for g in study.benchmarks.values() for b in g], study.output_dir,
                         k_values=study.k_values, recipe=study.recipe, training_bitext=study.training_bitext,
                         n_bootstrap=50, device="cpu", show_progress_bar=False)  # fmt: skip
    budget = estimate_budget(again)
    assert budget.units == [] and budget.seconds == 0
    assert "nothing to run: every cell is finished" in budget.describe()

    cell = again.cell_path("model-L1", DISTILLED, "sin_Sinh")
    kept = cell.read_bytes()
    cell.unlink()
    try:
        budget = estimate_budget(again)
    finally:
        cell.write_bytes(kept)
    assert [(u.model, u.condition, u.languages, u.steps, u.reuses_student) for u in budget.units] == [
        ("model-L1", DISTILLED, ("sin_Sinh",), 0, True)
    ]
    assert budget.cells_finished == 7 and budget.seconds > 0
    rates = budget.rates["model-L1"]
    assert rates.error is None and rates.seconds_per_text > 0 and rates.seconds_per_step is None


def test_progress_bar_counts_cells(bitext_dir, tiny_dir, benchmarks, tmp_path, capsys):
    study = ScalingStudy([f"a={tiny_dir}"], benchmarks, tmp_path, n_bootstrap=0, device="cpu")
    study.run()
    assert re.search(r"scaling cells: 100%.*2/2", capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------- Hub


@pytest.mark.hub
def test_report_pushes_as_dataset_with_card(report_files, tmp_path):
    """Round trip against tests/hub_server.py in a fresh interpreter (the Hub clients read HF_* at import)."""
    import os
    import subprocess
    import sys

    import yaml
    from hub_server import HubTestServer

    report = report_files["report.md"].parent
    server = HubTestServer(valid_tokens={"hf_scaling_test"}).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
        env.update(HF_ENDPOINT=server.endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_XET="1",
                   HF_TOKEN="hf_scaling_test")  # fmt: skip
        script = "import sys; from optical_st.scaling import push_report; print(push_report(sys.argv[1], 'user/scale'))"
        done = subprocess.run([sys.executable, "-c", script, str(report)], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        repo = server.repos[("dataset", "user/scale")]
        _, files = repo.snapshot("main")
    finally:
        server.stop()
    assert "/user/scale/commit/" in done.stdout
    assert {"README.md", "results.csv", "trends.csv", "models.csv", "report.md"} <= set(files)
    assert files["results.csv"].data == (report / "results.csv").read_bytes()
    card = files["README.md"].data.decode()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["language"] == ["en", "ne", "si"]
    assert {c["config_name"] for c in metadata["configs"]} == {"results", "trends", "models"}
    assert "Huang" in card and "| Nepali" in card


@pytest.mark.hub
def test_family_study_loads_hub_ids(bitext_dir, tmp_path):
    """The family command of docs/scaling.md, `optical-st scale --models intfloat/multilingual-e5-small,...`,
    end to end against tests/hub_server.py: three tiny models of different sizes are uploaded under the e5
    ids with the real huggingface_hub client, then the CLI resolves, downloads and evaluates them."""
    import os
    import subprocess
    import sys

    from hub_server import HubTestServer

    texts = [line for path in sorted(bitext_dir.glob("*.txt")) for line in path.read_text().splitlines()]
    sizes = {"small": (16, 1), "base": (32, 2), "large": (48, 3)}  # hidden size, layers
    folders, totals = {}, {}
    for size, (hidden, layers) in sizes.items():
        model = make_tiny_model(tmp_path / size, texts, hidden_size=hidden, num_layers=layers)
        folders[f"intfloat/multilingual-e5-{size}"] = tmp_path / size / "model"
        totals[f"multilingual-e5-{size}"] = count_parameters(model).total
    assert len(set(totals.values())) == 3
    output = tmp_path / "study"
    server = HubTestServer(valid_tokens={"hf_family_test"}).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
        env.update(HF_ENDPOINT=server.endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_XET="1",
                   HF_TOKEN="hf_family_test", PIP_NO_INDEX="1")  # fmt: skip
        upload = (
            "import sys\nfrom huggingface_hub import HfApi\napi = HfApi()\n"
            "for repo, folder in zip(sys.argv[1::2], sys.argv[2::2]):\n"
            "    api.create_repo(repo)\n    api.upload_folder(repo_id=repo, folder_path=folder)\n"
        )
        pairs = [str(item) for repo, folder in folders.items() for item in (repo, folder)]
        done = subprocess.run([sys.executable, "-c", upload, *pairs], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        server.requests.clear()
        done = subprocess.run(
            [sys.executable, "-m", "optical_st.cli", "scale", "--models", ",".join(folders),
             "--benchmark", str(bitext_dir), "--languages", "npi,sin", "--k", "1,10",
             "--output-dir", str(output), "--n-bootstrap", "0", "--device", "cpu", "--no-progress"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        downloads = [path for method, path, _ in server.requests if method == "GET" and "/resolve/" in path]
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    for repo in folders:
        assert any(path.startswith(f"/{repo}/resolve/") for path in downloads), (repo, downloads)
    # the models evaluated are the uploaded ones (their parameter counts), served by the Hub (no offline rebuild)
    models = pd.read_csv(output / "report" / "models.csv")
    assert dict(zip(models["model"], models["params_total"], strict=True)) == totals
    cells = sorted(output.glob("cells/*/zero-shot/*.json"))
    assert len(cells) == 6
    assert {json.loads(path.read_text())["served_from"] for path in cells} == {"hub"}
