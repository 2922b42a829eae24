"""Hub round trips for tests/test_hub.py, run in a subprocess whose environment points at the test server.

``huggingface_hub`` and ``datasets`` read ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_OFFLINE`` when
they are imported, and pytest imports them while collecting other test modules, so the round trips
run here, in a fresh interpreter started by the test with that environment. Each step records what
it measured in a JSON report; the assertions live in tests/test_hub.py.

Usage: ``python tests/hub_worker.py online|offline|stalled WORKDIR REPORT.json``
Environment: ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_DISABLE_XET=1``, ``HF_TOKEN`` (online),
``HF_HUB_OFFLINE=1`` (offline), ``HUB_FAKE_TOKEN`` (a token the server rejects),
``HUB_DEAD_ENDPOINT`` (a URL nothing listens on).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

MODEL_REPO = "user/tiny-optical"
DIR_MODEL_REPO = "user/tiny-optical-from-dir"
DISTILLED_REPO = "user/tiny-optical-distilled"
BAD_CARD_REPO = "user/tiny-bad-card"
BENCHMARK_REPO = "user/tiny-clir"
PASSAGE_REPO = "user/tiny-clir-passage"  # the same pairs as a query -> passage task (asymmetric prompts)

PAIRS = [
    ("नेपाल एक सुन्दर देश हो", "Nepal is a beautiful country"),
    ("म भात खान्छु", "I eat rice"),
    ("हिमाल अग्लो छ", "The mountain is tall"),
    ("पानी परिरहेको छ", "It is raining"),
    ("बच्चाहरू स्कूल जान्छन्", "The children go to school"),
    ("उनी किताब पढ्छिन्", "She reads a book"),
    ("बजार नजिकै छ", "The market is nearby"),
    ("आज मौसम राम्रो छ", "The weather is nice today"),
    ("मेरो घर काठमाडौंमा छ", "My house is in Kathmandu"),
    ("हामी नदीमा पौडी खेल्छौं", "We swim in the river"),
    ("चिया तातो छ", "The tea is hot"),
    ("कुकुर दौडिरहेको छ", "The dog is running"),
]
TRAINING_INFO = {
    "base_model": "intfloat/multilingual-e5-small",
    "teacher": "intfloat/multilingual-e5-small",
    "loss": {
        "name": "OTDistillLoss",
        "config": {"reg": 0.05, "cost": "cosine", "ot_weight": 1.0},
        "citation": "@inproceedings{huang2023optical, title={OPTICAL}, year={2023}}",
    },  # as distill records it
    "languages": ["npi_Deva"],
    "bitext": [
        {
            "name": "Tiny Nepali-English test pairs",
            "language": "npi_Deva",
            "pairs": 12,
            "license": "CC0",
            "citation": "@misc{tinypairs, title={Tiny pairs}, year={2026}}",
        }
    ],
    "hyperparameters": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1e-3, "seed": 0},
    "hub_token": "must never reach a card",  # scrubbed by optical_st.hub
}


def record(report: dict, name: str, function) -> None:
    """Run one step; store its measurements or its error (type, message, traceback)."""
    start = time.perf_counter()
    try:
        report[name] = {"ok": True, **(function() or {})}
    except Exception as error:
        report[name] = {
            "ok": False,
            "error_type": type(error).__name__,
            "message": str(error),
            "traceback": "".join(traceback.format_exception(error)),
        }
    report[name]["seconds"] = round(time.perf_counter() - start, 2)


def tiny_benchmark(level: str = "sentence"):
    from datasets import Dataset

    from optical_st.data import CLIRBenchmark

    return CLIRBenchmark(
        name="tiny-npi-eng" if level == "sentence" else f"tiny-npi-eng-{level}",
        queries=Dataset.from_dict(
            {
                "_id": [f"q{i}" for i in range(len(PAIRS))],
                "text": [p[0] for p in PAIRS],
                "language": ["npi_Deva"] * 12,
            }
        ),
        corpus=Dataset.from_dict(
            {
                "_id": [f"d{i}" for i in range(len(PAIRS))],
                "title": [""] * 12,
                "text": [p[1] for p in PAIRS],
                "language": ["eng_Latn"] * 12,
            }
        ),
        qrels=Dataset.from_dict(
            {
                "query-id": [f"q{i}" for i in range(12)],
                "corpus-id": [f"d{i}" for i in range(12)],
                "score": [1] * 12,
            }
        ),
        query_language="npi_Deva",
        document_language="eng_Latn",
        metadata={
            "level": level,
            "source": "tiny",
            "licence": "CC BY-SA 4.0",
            "citation": "@misc{tiny}",
        },
    )


def train_tiny_model(workdir: Path):
    """A tiny model from tests/tiny_models.py, trained 4 steps with sentence-transformers' trainer."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from tiny_models import make_tiny_model

    texts = [t for pair in PAIRS for t in pair]
    model = make_tiny_model(workdir / "tiny", texts)
    train = Dataset.from_dict({"anchor": [p[0] for p in PAIRS], "positive": [p[1] for p in PAIRS]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(workdir / "trainer"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        seed=0,
        report_to=[],
        save_strategy="no",
        logging_steps=2,
        use_cpu=True,
        disable_tqdm=True,
    )
    before = model.encode(["नेपाल"], convert_to_numpy=True).copy()
    SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=MultipleNegativesRankingLoss(model)
    ).train()
    after = model.encode(["नेपाल"], convert_to_numpy=True)
    return model, float(abs(after - before).max())


def distill_tiny_student(workdir: Path) -> Path:
    """``optical-st``'s own recipe on a tiny e5-like folder (query/passage prompts, PROVENANCE.md naming
    intfloat/multilingual-e5-small, as the offline build has): returns the trained ``final/`` folder."""
    from datasets import Dataset
    from tiny_models import make_tiny_model

    from optical_st.pretrained import write_provenance
    from optical_st.training import DistillationRecipe, distill

    base = make_tiny_model(workdir / "e5-like", [t for pair in PAIRS for t in pair])
    base.prompts = {"query": "query: ", "passage": "passage: "}  # what a Hub e5 config holds
    base.save(str(workdir / "e5-like" / "model"))
    write_provenance(workdir / "e5-like" / "model", base_model="intfloat/multilingual-e5-small", license="mit",
                     note="tiny stand-in for the 4-bit build")  # fmt: skip
    bitext = Dataset.from_dict({
        "id": [str(i) for i in range(len(PAIRS))], "language": ["npi_Deva"] * len(PAIRS),
        "english": [p[1] for p in PAIRS], "target": [p[0] for p in PAIRS], "doc_id": [""] * len(PAIRS),
        "source": ["tiny"] * len(PAIRS),
    })  # fmt: skip
    folder = str(workdir / "e5-like" / "model")
    return distill(folder, folder, bitext,
                   DistillationRecipe(loss="ot", steps=3, batch_size=4, lr=1e-3, reg=0.5, save_steps=0,
                                      show_progress_bar=False),
                   output_dir=workdir / "run")  # fmt: skip


def run_snippet(code: str) -> dict[str, float]:
    """Run a card's Python block; ``{"dataset config": recall}`` from the lines it prints."""
    import contextlib
    import io
    import re

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<card snippet>", "exec"), {"__name__": "__card__"})
    found = re.findall(r"^(\S+ \S+) recall@10 = ([0-9.]+)$", printed.getvalue(), re.MULTILINE)
    return {name: float(value) for name, value in found}


def all_text_under(folder: Path) -> str:
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)


def online(workdir: Path, report: dict) -> None:
    import numpy as np
    import yaml
    from datasets import load_dataset
    from huggingface_hub import DatasetCard, HfApi, ModelCard, hf_hub_download, parse_eval_result_entries
    from sentence_transformers import SentenceTransformer

    from optical_st import hub
    from optical_st.cli import main as cli_main
    from optical_st.data import load_benchmark
    from optical_st.evaluation import CLIREvaluator
    from optical_st.hub._cards import yaml_front_matter

    log_file = workdir / "worker.log"
    logging.basicConfig(filename=log_file, level=logging.DEBUG, force=True)
    fake = os.environ["HUB_FAKE_TOKEN"]
    probe = ["नेपाल सुन्दर छ", "The market is nearby", "चिया"]
    state: dict = {}

    def train():
        model, change = train_tiny_model(workdir)
        state["model"] = model
        return {"weights_changed_by": change}

    def push_benchmark():
        benchmark = tiny_benchmark()
        state["benchmark"] = benchmark
        url = hub.push_benchmark(benchmark, BENCHMARK_REPO, local_dir=workdir / "bench-local")
        local_card = (workdir / "bench-local" / "README.md").read_text(encoding="utf-8")
        remote = DatasetCard.load(BENCHMARK_REPO, repo_type="dataset")
        return {
            "url": url,
            "card_yaml_equal": remote.data.to_dict() == hub.validate_card(local_card, "dataset"),
            "license": remote.data.to_dict().get("license"),
            "configs": [c["config_name"] for c in remote.data.to_dict()["configs"]],
            "eval_yaml": yaml.safe_load((workdir / "bench-local" / "eval.yaml").read_text()),
        }

    def load_benchmark_back():
        benchmark = state["benchmark"]
        tables = {
            part: load_dataset(BENCHMARK_REPO, part, split="test") for part in ("corpus", "queries", "qrels")
        }
        equal = {part: tables[part].to_list() == getattr(benchmark, part).to_list() for part in tables}
        loaded = load_benchmark(BENCHMARK_REPO)
        state["loaded"] = loaded
        return {
            "load_dataset_equal": equal,
            "load_benchmark_equal": {
                p: getattr(loaded, p).to_list() == getattr(benchmark, p).to_list() for p in tables
            },
            "languages": [loaded.query_language, loaded.document_language],
        }

    def evaluate():
        local = CLIREvaluator([state["benchmark"]], k_values=(1, 5, 10), n_bootstrap=50)
        local(state["model"])
        remote = CLIREvaluator([state["loaded"]], k_values=(1, 5, 10), n_bootstrap=50)
        remote(state["model"])
        state["evaluator"] = local
        pick = {(r["benchmark"], r["metric"], r["k"]): r["value"] for r in local.results}
        pick_remote = {(r["benchmark"], r["metric"], r["k"]): r["value"] for r in remote.results}
        linked = ("dataset_id", "dataset_config")  # only the copy loaded from the Hub knows its dataset
        return {
            "recall@10": pick[("tiny-npi-eng", "recall", 10)],
            "same_results_from_hub": local.results
            == [{k: v for k, v in row.items() if k not in linked} for row in remote.results],
            "remote_dataset": [remote.results[0].get(k) for k in linked],
            "n_rows": len(local.results),
            "remote_recall@10": pick_remote[("tiny-npi-eng", "recall", 10)],
        }

    def push_model():
        model = state["model"]
        reference = model.encode(probe, convert_to_numpy=True)
        url = hub.push_model(
            model,
            MODEL_REPO,
            evaluation_results=state["evaluator"],
            training_info=TRAINING_INFO,
            benchmark_ids={"tiny-npi-eng": BENCHMARK_REPO},
            license="mit",
            local_dir=workdir / "model-local",
        )
        loaded = SentenceTransformer(MODEL_REPO, device="cpu")
        again = loaded.encode(probe, convert_to_numpy=True)
        local_text = (workdir / "model-local" / "README.md").read_text(encoding="utf-8")
        remote = ModelCard.load(MODEL_REPO)
        entries_path = hf_hub_download(MODEL_REPO, hub.EVAL_RESULTS_FILE)
        entries = parse_eval_result_entries(yaml.safe_load(Path(entries_path).read_text()))
        metadata = remote.data.to_dict()
        return {
            "url": url,
            "max_abs_diff": float(np.abs(reference - again).max()),
            "card_yaml_equal": metadata == hub.validate_card(local_text, "model"),
            "card_text_equal": str(remote) == local_text,
            "metadata": json.loads(json.dumps(metadata, default=str)),
            "eval_entries": [
                {"dataset_id": e.dataset_id, "task_id": e.task_id, "value": e.value, "notes": e.notes}
                for e in entries
            ],
            "card_mentions": {
                word: word in local_text
                for word in (
                    "OTDistillLoss",
                    "Nepali",
                    "huang2023optical",
                    "Tiny Nepali-English test pairs",
                    "CC0",
                )
            },
            "card_has_scrubbed_key": "must never reach a card" in all_text_under(workdir / "model-local"),
            "valid_token_in_files": os.environ["HF_TOKEN"] in all_text_under(workdir / "model-local"),
        }

    def push_from_directory_with_cli():
        directory = workdir / "model-local"  # holds optical_st_run.json from the previous push
        code = cli_main(
            ["push-model", str(directory), DIR_MODEL_REPO, "--local-dir", str(workdir / "dir-local")]
        )
        card = ModelCard.load(DIR_MODEL_REPO)
        first = ModelCard.load(MODEL_REPO).data.to_dict()
        files = [s.rfilename for s in HfApi().model_info(DIR_MODEL_REPO).siblings]
        return {
            "exit_code": code,
            "same_model_index": card.data.to_dict().get("model-index") == first["model-index"],
            "has_eval_results_file": hub.EVAL_RESULTS_FILE in files,
            "teacher_in_card": "Teacher" in card.text,
        }

    def distill_and_evaluate():
        final = distill_tiny_student(workdir)
        state["final"] = final
        hub.push_benchmark(tiny_benchmark("passage"), PASSAGE_REPO, local_dir=workdir / "passage-local")
        code = cli_main(["evaluate", "--model", str(final), "--benchmark", BENCHMARK_REPO, "--benchmark", PASSAGE_REPO,
                         "--k", "1,5,10", "--bootstrap", "50", "--output", str(workdir / "results.json")])  # fmt: skip
        rows = json.loads((workdir / "results.json").read_text())["results"]
        trainer_card = yaml_front_matter((final / "README.md").read_text(encoding="utf-8"))
        return {
            "exit_code": code,
            "trainer_card": {key: trainer_card.get(key) for key in ("tags", "widget")},
            "prompts": {
                row["key"]: [
                    row["query_prompt"],
                    row["document_prompt"],
                    row.get("dataset_id"),
                    row.get("dataset_config"),
                ]
                for row in rows
                if row["query_language"] != "*"
            },
        }

    def round_trip():
        """Push the distilled folder and its results, then reproduce the card's numbers from the card alone."""
        final = state["final"]
        code = cli_main(
            ["push-model", str(final), DISTILLED_REPO, "--evaluation-results", str(workdir / "results.json")]
        )
        card = ModelCard.load(DISTILLED_REPO)
        metadata = card.data.to_dict()
        from huggingface_hub.repocard_data import model_index_to_eval_results

        _, results = model_index_to_eval_results(metadata["model-index"])
        claimed = {
            f"{r.dataset_type} {r.dataset_config}": r.metric_value
            for r in results
            if r.metric_type == "recall_at_10"
        }
        snippet = (
            card.text.split("### Reproduce these numbers", 1)[1].split("```python", 1)[1].split("```", 1)[0]
        )
        reproduced = run_snippet(
            snippet
        )  # plain SentenceTransformer("user/...") and load_dataset("user/...")
        loaded = SentenceTransformer(DISTILLED_REPO, device="cpu")
        texts = ["The market is nearby"]
        document_prompt_gap = float(
            np.abs(loaded.encode_document(texts) - loaded.encode(texts, prompt="passage: ")).max()
        )
        return {
            "exit_code": code,
            "claimed": claimed,
            "reproduced": reproduced,
            "metadata": json.loads(json.dumps(metadata, default=str)),
            "metric_args": {f"{r.dataset_type} {r.dataset_config}": r.metric_args for r in results},
            "document_prompt_gap": document_prompt_gap,
            "local_path_in_card": str(workdir) in str(card),
        }

    def bad_card():
        """A licence the Hub does not know: the server's metadata check refuses the push."""
        try:
            hub.push_model(
                state["model"], BAD_CARD_REPO, license="my own licence", local_dir=workdir / "bad-card"
            )
        except Exception as error:
            files = [s.rfilename for s in HfApi().model_info(BAD_CARD_REPO).siblings]
            return {"type": type(error).__name__, "message": str(error), "files_on_hub": files}
        return {"type": None}

    def errors():
        cases = {}
        original = os.environ.get("HF_TOKEN")

        def attempt(name, **kwargs):
            target = workdir / f"err-{name}"
            try:
                hub.push_model(state["model"], f"user/err-{name}", local_dir=target, **kwargs)
            except Exception as error:
                formatted = "".join(traceback.format_exception(error))
                secrets = [fake, *([original] if original else [])]
                kept = SentenceTransformer(str(target), device="cpu").encode(probe, convert_to_numpy=True)
                cases[name] = {
                    "type": type(error).__name__,
                    "message": str(error),
                    "token_in_message": any(secret in formatted for secret in secrets),
                    "token_in_files": any(secret in all_text_under(target) for secret in secrets),
                    "local_kept": float(
                        np.abs(kept - state["model"].encode(probe, convert_to_numpy=True)).max()
                    )
                    == 0.0,
                    "mentions_local_dir": str(target) in str(error),
                }
            else:
                cases[name] = {"type": None}

        os.environ["HF_TOKEN"] = fake
        attempt("wrong-token-env")
        os.environ.pop("HF_TOKEN")
        attempt("missing-token")
        os.environ["HF_TOKEN"] = original or ""
        attempt("dead-endpoint", token=fake, endpoint=os.environ["HUB_DEAD_ENDPOINT"])
        attempt("rejected-upload")  # the valid token creates the repository, then the commit fails
        cases["rejected-upload"]["files_on_hub"] = [
            s.rfilename for s in HfApi().model_info("user/err-rejected-upload").siblings
        ]
        hub.push_model(state["model"], "user/err-exists", local_dir=workdir / "err-exists-first")
        attempt("exists")
        attempt_ok = workdir / "err-exists-ok"
        hub.push_model(state["model"], "user/err-exists", local_dir=attempt_ok, exist_ok=True)
        cases["exists-ok"] = {"type": None}
        log_text = log_file.read_text(encoding="utf-8", errors="replace")
        cases["token_in_log"] = fake in log_text or bool(original and original in log_text)
        return {"cases": cases}

    def pull_errors():
        found = {}
        for name, call in (("model", hub.download_model), ("dataset", hub.download_dataset)):
            try:
                call("user/does-not-exist")
            except Exception as error:
                found[name] = {"type": type(error).__name__, "message": str(error)}
        return found

    for name, step in [
        ("train", train),
        ("push_benchmark", push_benchmark),
        ("load_benchmark", load_benchmark_back),
        ("evaluate", evaluate),
        ("push_model", push_model),
        ("push_from_directory", push_from_directory_with_cli),
        ("distill_and_evaluate", distill_and_evaluate),
        ("round_trip", round_trip),
        ("errors", errors),
        ("pull_errors", pull_errors),
        ("bad_card", bad_card),  # last: the refused licence stays in the model's card data
    ]:
        record(report, name, step)
        if name in ("train", "push_benchmark") and not report[name]["ok"]:
            break
    if "model" in state:
        np.save(workdir / "reference.npy", state["model"].encode(probe, convert_to_numpy=True))


def offline(workdir: Path, report: dict) -> None:
    import numpy as np
    from datasets import load_dataset
    from sentence_transformers import SentenceTransformer

    from optical_st import hub
    from optical_st.data import load_benchmark

    probe = ["नेपाल सुन्दर छ", "The market is nearby", "चिया"]

    def model():
        loaded = SentenceTransformer(MODEL_REPO, device="cpu")
        reference = np.load(workdir / "reference.npy")
        return {
            "max_abs_diff": float(np.abs(loaded.encode(probe, convert_to_numpy=True) - reference).max()),
            "download_model_is_snapshot": "snapshots" in str(hub.download_model(MODEL_REPO)),
        }

    def benchmark():
        folder = hub.download_dataset(BENCHMARK_REPO)
        loaded = load_benchmark(BENCHMARK_REPO)
        corpus = load_dataset(str(folder), "corpus", split="test")
        return {"n_queries": len(loaded.queries), "n_corpus": len(corpus)}

    def missing():
        try:
            hub.download_model("user/never-pushed")
        except Exception as error:
            return {"type": type(error).__name__, "message": str(error)}
        return {"type": None}

    def push_offline():
        try:
            hub.push_model(workdir / "model-local", "user/offline-push", local_dir=workdir / "offline-push")
        except Exception as error:
            return {"type": type(error).__name__, "message": str(error)}
        return {"type": None}

    for name, step in [
        ("model", model),
        ("benchmark", benchmark),
        ("missing", missing),
        ("push", push_offline),
    ]:
        record(report, name, step)


def stalled(workdir: Path, report: dict) -> None:
    """A Hub that accepts connections and never answers (``HF_ENDPOINT``): every step must end, and soon."""
    from datasets import Dataset
    from tiny_models import make_tiny_model

    from optical_st import hub
    from optical_st.data import sentence_retrieval_benchmark
    from optical_st.evaluation import CLIREvaluator
    from optical_st.pretrained import write_provenance
    from optical_st.training import DistillationRecipe, distill

    make_tiny_model(workdir / "tiny", [t for pair in PAIRS for t in pair])
    folder = str(workdir / "tiny" / "model")
    write_provenance(folder, base_model="intfloat/multilingual-e5-small", license="mit", note="tiny stand-in")
    bitext = Dataset.from_dict({
        "id": [str(i) for i in range(len(PAIRS))], "language": ["npi_Deva"] * len(PAIRS),
        "english": [p[1] for p in PAIRS], "target": [p[0] for p in PAIRS], "doc_id": [""] * len(PAIRS),
        "source": ["tiny"] * len(PAIRS),
    })  # fmt: skip

    def train():
        evaluator = CLIREvaluator([sentence_retrieval_benchmark(bitext)], k_values=[1])
        distill(folder, folder, bitext,
                DistillationRecipe(loss="mse", steps=2, batch_size=4, eval_steps=1, save_steps=1,
                                   hub_model_id="user/stalled", show_progress_bar=False),
                output_dir=workdir / "run", evaluator=evaluator)  # fmt: skip
        run = json.loads((workdir / "run" / "training_run.json").read_text())
        return {"status": run["status"], "push_errors": run["push_errors"],
                "best": (workdir / "run" / "best" / "model.safetensors").is_file()}  # fmt: skip

    def failure(push):
        def step():
            try:
                push()
            except Exception as error:
                return {"type": type(error).__name__, "message": str(error)}
            return {"type": None}

        return step

    steps = [
        ("train", train),
        ("push_model", failure(lambda: hub.push_model(workdir / "run" / "final", "user/stalled-model"))),
        ("push_benchmark", failure(lambda: hub.push_benchmark(tiny_benchmark(), "user/stalled-bench",
                                                              local_dir=workdir / "bench"))),
    ]  # fmt: skip
    for name, step in steps:
        record(report, name, step)


def import_libraries() -> dict:
    import datasets  # noqa: F401
    import sentence_transformers  # noqa: F401

    import optical_st.hub  # noqa: F401

    return {}


if __name__ == "__main__":
    mode, workdir, output = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    results: dict = {}
    record(results, "imports", import_libraries)  # timed separately: interpreter start-up dominates
    try:
        {"online": online, "offline": offline, "stalled": stalled}[mode](workdir, results)
    finally:
        output.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
