"""optical_st.hub against a real Hub-compatible HTTP server, plus the card logic without a network.

How the server is reached: ``huggingface_hub`` and ``datasets`` read ``HF_ENDPOINT``, ``HF_HOME``
and ``HF_HUB_OFFLINE`` once, at import time, and pytest imports them while collecting other test
modules, long before any fixture here runs. So this module starts ``tests/hub_server.py`` (standard
library, a thread on 127.0.0.1 with a free port) and runs the round trips in fresh interpreters,
``tests/hub_worker.py``, whose environment points at the server: one online worker (push, pull,
errors) and one offline worker (``HF_HUB_OFFLINE=1``, the cache the online worker filled, the
server already stopped). Nothing in the clients is mocked: the real ``huggingface_hub``,
``datasets`` and ``sentence-transformers`` code talks HTTP to the server. The workers write JSON
reports (each step's measurements, or its error and traceback); the assertions are here.

The tests in the second half call the card helpers in-process (no server, no token).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from optical_st import hub
from optical_st.hub._cards import scrub
from optical_st.hub._errors import redact
from optical_st.hub._licences import dataset_license
from optical_st.results import load_rows

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
VALID_TOKEN = "hf_test_valid_token_for_the_local_server"
FAKE_TOKEN = "hf_FAKEsecretTOKEN9f8e7d6c5b4a"  # recognisable: must never show up anywhere


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    from hub_server import HubTestServer

    workdir = tmp_path_factory.mktemp("hub")
    server = HubTestServer(valid_tokens={VALID_TOKEN}, reject_commits={"user/err-rejected-upload"}).start()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))
    }
    env.update(
        HF_ENDPOINT=server.endpoint,
        HF_HOME=str(workdir / "hf-home"),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HUB_FAKE_TOKEN=FAKE_TOKEN,
        HUB_DEAD_ENDPOINT=f"http://127.0.0.1:{_free_port()}",
        PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")]),
        TOKENIZERS_PARALLELISM="false",
    )
    worker = [sys.executable, str(TESTS / "hub_worker.py")]
    try:
        online = subprocess.run(
            [*worker, "online", str(workdir), str(workdir / "online.json")],
            env=dict(env, HF_TOKEN=VALID_TOKEN),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.stop()  # the offline worker must manage without any server
    assert online.returncode == 0, online.stderr[-4000:]
    offline = subprocess.run(
        [*worker, "offline", str(workdir), str(workdir / "offline.json")],
        env=dict(env, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert offline.returncode == 0, offline.stderr[-4000:]
    result = {
        "online": json.loads((workdir / "online.json").read_text()),
        "offline": json.loads((workdir / "offline.json").read_text()),
        "requests": server.requests,
        "workdir": workdir,
    }
    return result


@pytest.fixture
def stalled_hub():
    """An endpoint that accepts every connection and never answers (a hung proxy or server)."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # kept open, never read, never answered
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_stalled_hub_never_hangs_training_or_a_push(stalled_hub, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING_FACE_"))}
    env.update(HF_ENDPOINT=stalled_hub, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_XET="1",
               HF_TOKEN=VALID_TOKEN, HF_HUB_DOWNLOAD_TIMEOUT="2", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")]))  # fmt: skip
    report_file = tmp_path / "stalled.json"
    subprocess.run([sys.executable, str(TESTS / "hub_worker.py"), "stalled", str(tmp_path), str(report_file)],
                   env=env, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    report = json.loads(report_file.read_text())
    train = step({"stalled": report}, "stalled", "train")
    # trained and saved locally; the push of best/ failed, was recorded, and training went on
    assert train["status"] == "done" and train["best"] and train["push_errors"]
    assert "Could not reach the Hub" in train["push_errors"][0]["error"]
    for name in ("push_model", "push_benchmark"):
        failed = step({"stalled": report}, "stalled", name)
        assert failed["type"] == "HubConnectionError" and "Could not reach the Hub" in failed["message"]
        assert failed["seconds"] < 60


def step(reports: dict, mode: str, name: str) -> dict:
    found = reports[mode].get(name)
    assert found is not None, f"{mode} step {name!r} did not run (an earlier step failed)"
    assert found["ok"], f"{mode} step {name!r} failed:\n{found.get('traceback')}"
    return found


# round trips against the server ---------------------------------------------------------------
@pytest.mark.hub
def test_trained_model_round_trips_with_identical_embeddings(reports):
    assert step(reports, "online", "train")["weights_changed_by"] > 0  # the pushed model was trained
    pushed = step(reports, "online", "push_model")
    assert "/user/tiny-optical/commit/" in pushed["url"]
    assert pushed["max_abs_diff"] == 0.0


@pytest.mark.hub
def test_model_card_read_back_equals_what_was_written(reports):
    pushed = step(reports, "online", "push_model")
    assert pushed["card_yaml_equal"] and pushed["card_text_equal"]
    metadata = pushed["metadata"]
    assert metadata["language"] == ["en", "ne"]
    assert metadata["base_model"] == "intfloat/multilingual-e5-small"
    assert metadata["library_name"] == "sentence-transformers"
    assert {"optical-st", "cross-lingual-retrieval", "generated_from_trainer"} <= set(metadata["tags"])
    assert metadata["datasets"] == ["user/tiny-clir"]
    from huggingface_hub.repocard_data import model_index_to_eval_results

    _, results = model_index_to_eval_results(metadata["model-index"])
    recall = {r.metric_type: r.metric_value for r in results if r.dataset_type == "user/tiny-clir"}
    evaluated = step(reports, "online", "evaluate")
    assert recall["recall_at_10"] == pytest.approx(evaluated["recall@10"], abs=1e-6)
    assert {"recall_at_1", "recall_at_5", "mrr_at_10", "ndcg_at_10"} <= set(recall)
    # a real config of the pushed dataset (its queries), not a pair prefix; macro rows stay out
    assert all(r.dataset_config == "queries" for r in results)


@pytest.mark.hub
def test_model_card_content_and_no_secrets(reports):
    pushed = step(reports, "online", "push_model")
    assert all(pushed["card_mentions"].values()), pushed["card_mentions"]
    assert not pushed["card_has_scrubbed_key"]  # training_info["hub_token"] was dropped
    assert not pushed["valid_token_in_files"]


@pytest.mark.hub
def test_eval_results_in_the_newer_hub_format(reports):
    pushed = step(reports, "online", "push_model")
    recall = step(reports, "online", "evaluate")["recall@10"]
    (entry,) = pushed["eval_entries"]
    assert entry["dataset_id"] == "user/tiny-clir" and entry["task_id"] == "npi_Deva-eng_Latn"
    assert entry["value"] == pytest.approx(recall, abs=1e-6)
    assert entry["notes"].startswith("Recall@10, 95% CI [")
    tasks = step(reports, "online", "push_benchmark")["eval_yaml"]["tasks"]
    assert [task["id"] for task in tasks] == ["npi_Deva-eng_Latn"]  # declared by the benchmark repo


@pytest.mark.hub
def test_benchmark_round_trip_with_load_dataset_and_load_benchmark(reports):
    pushed = step(reports, "online", "push_benchmark")
    assert pushed["card_yaml_equal"]
    assert pushed["configs"] == ["corpus", "queries", "qrels"]
    assert pushed["license"] == "cc-by-sa-4.0"  # the source is CC BY-SA: share-alike applies
    loaded = step(reports, "online", "load_benchmark")
    assert all(loaded["load_dataset_equal"].values()), loaded["load_dataset_equal"]
    assert all(loaded["load_benchmark_equal"].values()), loaded["load_benchmark_equal"]
    assert loaded["languages"] == ["npi_Deva", "eng_Latn"]


@pytest.mark.hub
def test_evaluation_on_the_pushed_benchmark_matches_the_local_one(reports):
    evaluated = step(reports, "online", "evaluate")
    assert evaluated["same_results_from_hub"]
    assert 0.0 <= evaluated["recall@10"] <= 1.0 and evaluated["n_rows"] > 0
    assert evaluated["remote_dataset"] == ["user/tiny-clir", "queries"]  # its rows name the Hub dataset


@pytest.mark.hub
def test_cli_pushes_a_saved_run_directory(reports):
    pushed = step(reports, "online", "push_from_directory")
    assert pushed["exit_code"] == 0
    # optical_st_run.json carried the training facts, the rows and the benchmark ids
    assert pushed["same_model_index"] and pushed["has_eval_results_file"] and pushed["teacher_in_card"]


@pytest.mark.hub
@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong-token-env", "HubAuthenticationError"),
        ("missing-token", "HubAuthenticationError"),
        ("dead-endpoint", "HubConnectionError"),
        ("exists", "HubRepoExistsError"),
        ("rejected-upload", "HubError"),
    ],
)
def test_push_failures_are_clear_keep_the_files_and_never_show_the_token(reports, case, error):
    cases = step(reports, "online", "errors")["cases"]
    found = cases[case]
    assert found["type"] == error, found
    assert not found["token_in_message"], found["message"]
    assert not found["token_in_files"]
    assert found["local_kept"] and found["mentions_local_dir"], found["message"]
    assert not cases["token_in_log"]
    assert cases["exists-ok"]["type"] is None  # exist_ok=True adds a commit instead
    assert cases["rejected-upload"]["files_on_hub"] == []  # one commit: nothing half-uploaded


@pytest.mark.hub
def test_pulling_a_missing_repository_is_a_clear_error(reports):
    found = step(reports, "online", "pull_errors")
    for kind in ("model", "dataset"):
        assert found[kind]["type"] == "HubError"
        assert found[kind]["message"].startswith(f"No {kind} repository 'user/does-not-exist'")


@pytest.mark.hub
def test_offline_loads_from_the_prefilled_cache(reports):
    model = step(reports, "offline", "model")
    assert model["max_abs_diff"] == 0.0 and model["download_model_is_snapshot"]
    benchmark = step(reports, "offline", "benchmark")
    assert benchmark == {**benchmark, "n_queries": 12, "n_corpus": 12}
    missing = step(reports, "offline", "missing")
    assert missing["type"] == "HubConnectionError" and "HF_HUB_OFFLINE=1" in missing["message"]
    push = step(reports, "offline", "push")
    assert push["type"] == "HubConnectionError" and "HF_HUB_OFFLINE=1" in push["message"]


@pytest.mark.hub
def test_the_clients_really_talked_to_the_server(reports):
    paths = {(method, path) for method, path, _ in reports["requests"]}
    assert ("POST", "/api/repos/create") in paths
    assert ("POST", "/api/models/user/tiny-optical/commit/main") in paths
    assert ("POST", "/api/datasets/user/tiny-clir/commit/main") in paths
    assert any(path.startswith("/user/tiny-optical/resolve/") for _, path in paths)


# card logic without a server ----------------------------------------------------------------------
def _row(
    benchmark="flores-npi", metric="recall", k=10, value=0.5, query="npi_Deva", document="eng_Latn", **extra
):
    return {
        "benchmark": benchmark,
        "query_language": query,
        "document_language": document,
        "level": "sentence",
        "metric": metric,
        "k": k,
        "value": value,
        "ci_low": value - 0.1,
        "ci_high": value + 0.1,
        "n_queries": 100,
        **extra,
    }


def test_results_become_a_table_and_a_model_index_that_parses_back():
    from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

    rows = [
        _row(metric="recall", k=1, value=0.25),
        _row(metric="recall", k=10, value=0.75),
        _row(metric="mrr", k=10, value=0.4),
        _row(benchmark="flores-sin", query="sin_Sinh", value=0.6),
        _row(
            benchmark="macro",
            query="*",
            document="*",
            value=0.7,
            ci_low=math.nan,
            ci_high=math.nan,
            n_benchmarks=2,
        ),
    ]
    rows = load_rows(rows)
    table = hub.results_table(rows)
    assert table["columns"] == ["Recall@1", "Recall@10", "MRR@10"]
    first = table["rows"][0]
    assert first["query"] == "Nepali (`npi_Deva`)" and first["cells"][1] == "0.7500 [0.6500, 0.8500]"
    macro = table["rows"][-1]
    assert macro["query"] == "macro average" and macro["document"] == "over 2 benchmarks"
    assert macro["cells"][1] == "0.7000"  # NaN interval -> no interval, not "nan"
    results = hub.results_to_eval_results(rows, {"flores-npi": "me/flores-npi"})
    assert len(results) == 3  # the macro row and flores-sin (no Hub dataset) are not dataset results
    _, parsed = model_index_to_eval_results(eval_results_to_model_index("m", results))
    assert {(r.dataset_type, r.dataset_config, r.metric_type, r.metric_value) for r in parsed} == {
        ("me/flores-npi", "queries", "recall_at_1", 0.25),
        ("me/flores-npi", "queries", "recall_at_10", 0.75),
        ("me/flores-npi", "queries", "mrr_at_10", 0.4),
    }
    entries = hub.results_to_eval_result_entries(rows, {"flores-npi": "me/flores-npi"})
    assert [(e.dataset_id, e.task_id, e.value) for e in entries] == [
        ("me/flores-npi", "npi_Deva-eng_Latn", 0.75)
    ]


def test_results_file_from_the_evaluator_json(tmp_path):
    path = tmp_path / "clir_results.json"
    path.write_text(json.dumps({"evaluator": "CLIREvaluator", "results": [_row()]}))
    assert load_rows(path)[0]["value"] == 0.5
    assert load_rows(SimpleNamespace(results=[_row(value=0.9)]))[0]["value"] == 0.9


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"benchmark": "b", "metric": "recall", "k": 10, "value": 0.5}, "query_language"),
        (_row(value=math.nan), "non-finite"),
    ],
)
def test_bad_result_rows_are_rejected(row, message):
    with pytest.raises(ValueError, match=message):
        load_rows([row])


def _bench(name, licence, source=None):
    return SimpleNamespace(
        name=name,
        query_language="npi_Deva",
        document_language="eng_Latn",
        metadata={"licence": licence, "source_name": source or name},
    )


def test_dataset_licence_share_alike_wins_and_unknown_licences_are_refused():
    chosen, sentence, sources = dataset_license(
        [_bench("flores", "CC BY-SA 4.0"), _bench("tatoeba", "CC BY 2.0 FR")], None
    )
    assert chosen == "cc-by-sa-4.0" and "share-alike" in sentence
    assert [s["license_id"] for s in sources] == ["cc-by-sa-4.0", "cc-by-2.0"]
    # data.py joins one licence per source, in order
    _, _, sources = dataset_license([_bench("mix", "CC BY-SA 4.0; CC0", "FLORES; TICO-19")], None)
    assert [(s["name"], s["license_id"]) for s in sources] == [
        ("FLORES", "cc-by-sa-4.0"),
        ("TICO-19", "cc0-1.0"),
    ]
    assert dataset_license([_bench("tico", "CC0")], None)[0] == "cc0-1.0"
    with pytest.raises(ValueError, match="No known licence"):
        dataset_license([_bench("mine", "unknown (user data)")], None)
    with pytest.raises(ValueError, match="mix licences"):
        dataset_license([_bench("a", "CC BY 2.0 FR"), _bench("b", "CC0")], None)
    assert dataset_license([_bench("mine", "unknown (user data)")], "cc-by-4.0")[0] == "cc-by-4.0"


@pytest.mark.parametrize("given", ["mit", "cc-by-4.0", "CC0"])
def test_a_licence_given_by_hand_cannot_drop_share_alike(given):
    with pytest.raises(
        ValueError, match=r"share-alike data \(flores: CC BY-SA 4.0\), so the dataset must stay"
    ):
        dataset_license([_bench("flores", "CC BY-SA 4.0"), _bench("tico", "CC0")], given)
    assert dataset_license([_bench("flores", "CC BY-SA 4.0")], "cc-by-sa-4.0")[0] == "cc-by-sa-4.0"
    assert dataset_license([_bench("flores", "CC BY-SA 4.0")], "CC BY-SA 4.0")[0] == "CC BY-SA 4.0"


def test_card_validation_names_missing_fields():
    with pytest.raises(ValueError, match="no YAML front matter"):
        hub.validate_card("# just text\n", "model")
    with pytest.raises(ValueError, match="pipeline_tag, tags"):
        hub.validate_card("---\nlanguage: [en]\nlibrary_name: sentence-transformers\n---\n", "model")
    with pytest.raises(ValueError, match="license"):
        hub.validate_card("---\nlanguage: [ne]\nconfigs: [{config_name: corpus}]\n---\n", "dataset")


def test_secret_keys_are_scrubbed_and_tokens_redacted():
    cleaned = scrub({"teacher": "t", "hub_token": "x", "nested": [{"api_key": "y", "lr": 1}]})
    assert cleaned == {"teacher": "t", "nested": [{"lr": 1}]}
    assert FAKE_TOKEN not in redact(f"bad {FAKE_TOKEN} here", FAKE_TOKEN)


def test_templates_ship_inside_the_package():
    packaged = ROOT / "optical_st" / "hub_cards"
    assert packaged.is_symlink() and packaged.resolve() == (ROOT / "hub_cards").resolve()
    assert hub.cards_dir().resolve() == (ROOT / "hub_cards").resolve()
    assert '"hub_cards/*.md"' in (ROOT / "pyproject.toml").read_text()


def test_cli_parses_benchmark_ids():
    from optical_st.commands.push_model import parse_benchmark_ids

    assert parse_benchmark_ids(["flores-npi=me/flores-npi"]) == {"flores-npi": "me/flores-npi"}
    with pytest.raises(ValueError, match="NAME=user/dataset"):
        parse_benchmark_ids(["flores-npi"])


def test_bad_repo_id_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="user/name"):
        hub.push_model(tmp_path, "no-namespace")
    with pytest.raises(FileNotFoundError):
        hub.push_model(tmp_path / "missing", "user/name")
    with pytest.raises(ValueError, match="user/name"):
        hub.push_benchmark([], "bad id")


def _tiny_benchmark(language: str, licence: str = "CC BY-SA 4.0"):
    from datasets import Dataset

    from optical_st.data import CLIRBenchmark

    ids = [f"{language}-{i}" for i in range(3)]
    return CLIRBenchmark(
        name=f"tiny-{language}",
        queries=Dataset.from_dict({"_id": ids, "text": ["क", "ख", "ग"], "language": [language] * 3}),
        corpus=Dataset.from_dict(
            {
                "_id": ["d0", "d1", "d2"],
                "title": [""] * 3,
                "text": ["a", "b", "c"],
                "language": ["eng_Latn"] * 3,
            }
        ),
        qrels=Dataset.from_dict({"query-id": ids, "corpus-id": ["d0", "d1", "d2"], "score": [1, 1, 1]}),
        query_language=language,
        document_language="eng_Latn",
        metadata={"level": "sentence", "source_name": "Tiny", "licence": licence, "citation": "@misc{tiny}"},
    )


def test_several_language_pairs_become_configs_per_pair(tmp_path):
    from optical_st.data import load_benchmark

    benchmarks = [_tiny_benchmark("npi_Deva"), _tiny_benchmark("sin_Sinh")]
    folder = Path(hub.push_benchmark(benchmarks, "me/tiny-pairs", local_dir=tmp_path / "repo", dry_run=True))
    metadata = hub.validate_card((folder / "README.md").read_text(encoding="utf-8"), "dataset")
    assert [c["config_name"] for c in metadata["configs"]] == [
        f"{pair}-{part}"
        for pair in ("npi_Deva-eng_Latn", "sin_Sinh-eng_Latn")
        for part in ("corpus", "queries", "qrels")
    ]
    for config in metadata["configs"]:
        for path in config["data_files"][0]["path"]:
            assert (folder / path).is_file()
    assert metadata["language"] == ["ne", "en", "si"] and metadata["license"] == "cc-by-sa-4.0"
    tasks = yaml_load(folder / "eval.yaml")["tasks"]
    assert [t["id"] for t in tasks] == ["npi_Deva-eng_Latn", "sin_Sinh-eng_Latn"]
    loaded = load_benchmark(folder / "sin_Sinh-eng_Latn")
    assert loaded.queries.to_list() == benchmarks[1].queries.to_list()
    with pytest.raises(ValueError, match="distinct language pairs"):
        hub.push_benchmark([benchmarks[0], benchmarks[0]], "me/x", local_dir=tmp_path / "x", dry_run=True)


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture()
def recorded_uploads(monkeypatch):
    """HfApi with its two network calls replaced: the files an upload_folder call would send, per call.

    The list is computed with huggingface_hub's own filter (the one upload_folder applies), so the
    test sees exactly what would reach the Hub.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    uploads: list[list[str]] = []

    def upload_folder(self, *, folder_path, allow_patterns=None, ignore_patterns=None, **kwargs):
        files = [p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*") if p.is_file()]
        uploads.append(
            sorted(filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns))
        )
        return SimpleNamespace(commit_url="http://hub.invalid/commit/1")

    monkeypatch.setattr(HfApi, "create_repo", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return uploads


def test_push_benchmark_uploads_only_what_it_wrote(tmp_path, recorded_uploads):
    folder = tmp_path / "repo"
    (folder / "corpus").mkdir(parents=True)
    (folder / "private-notes.txt").write_text("not for the Hub")
    (folder / "corpus" / "old-export.parquet").write_bytes(b"PAR1 stale PAR1")
    hub.push_benchmark(_tiny_benchmark("npi_Deva"), "me/tiny", local_dir=folder, token=VALID_TOKEN)
    assert recorded_uploads == [
        [
            "README.md",
            "corpus/test.parquet",
            "eval.yaml",
            "metadata.json",
            "qrels/test.parquet",
            "queries/test.parquet",
        ]
    ]
    card = hub.validate_card((folder / "README.md").read_text(encoding="utf-8"), "dataset")
    assert [c["data_files"][0]["path"] for c in card["configs"]] == [
        ["corpus/test.parquet"],
        ["queries/test.parquet"],
        ["qrels/test.parquet"],
    ]
    assert (folder / "private-notes.txt").is_file()  # left alone, not published


def test_push_model_dry_run_leaves_the_model_folder_and_local_dir_uploads_only_what_it_wrote(
    tmp_path, monkeypatch, recorded_uploads
):
    from tiny_models import make_tiny_model

    make_tiny_model(tmp_path / "tiny")
    model_dir = tmp_path / "tiny" / "model"
    before = {p: p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    monkeypatch.chdir(tmp_path)
    written = Path(hub.push_model(model_dir, "me/tiny", dry_run=True))
    assert {p: p.read_bytes() for p in model_dir.rglob("*") if p.is_file()} == before
    assert written.resolve() == (tmp_path / "optical-st-hub" / "me__tiny").resolve()
    assert (written / "README.md").is_file() and (written / "model.safetensors").is_file()

    local = tmp_path / "local"
    local.mkdir()
    (local / "private-notes.txt").write_text("not for the Hub")
    hub.push_model(model_dir, "me/tiny", local_dir=local, token=VALID_TOKEN)
    assert "private-notes.txt" not in recorded_uploads[-1]
    assert {"README.md", "model.safetensors", "modules.json", "optical_st_run.json"} <= set(
        recorded_uploads[-1]
    )


# cards of trained models ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def e5_like(tmp_path_factory):
    """A tiny model folder standing in for the offline e5 build: query/passage prompts, PROVENANCE.md."""
    from tiny_models import make_tiny_model

    from optical_st.pretrained import write_provenance

    root = tmp_path_factory.mktemp("e5-like")
    model = make_tiny_model(root, ["नेपाल एक सुन्दर देश हो", "Nepal is a beautiful country", "चिया तातो छ"])
    model.prompts = {"query": "query: ", "passage": "passage: "}
    model.save(str(root / "model"))
    write_provenance(
        root / "model", base_model="intfloat/multilingual-e5-small", license="mit", note="4-bit build"
    )
    return root / "model"


def _trained_info(student: Path) -> dict:
    """A run record as `optical-st train` wrote it before the card fix: local paths for both models."""
    return {
        "base_model": str(student),
        "teacher": str(student),
        "loss": {
            "name": "OTDistillLoss",
            "config": {"reg": 0.05, "debias": False, "regularization": "entropic"},
        },
        "languages": ["npi_Deva"],
        "bitext": [{"name": "floresv1_ne_si", "language": "npi_Deva", "pairs": 12}],
    }


def _rows_with_prompts(**extra):
    facts = {"query_prompt": "query: ", "document_prompt": "query: ", "query_encoder": "model",
             "document_encoder": "model"}  # fmt: skip
    return [_row(metric="recall", k=k, value=v, **facts, **extra) for k, v in ((1, 0.5), (10, 0.75))]


def test_trained_model_card_is_complete_and_names_no_local_path(e5_like, tmp_path, caplog):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_like), device="cpu")
    folder = Path(hub.push_model(model, "me/student", evaluation_results=_rows_with_prompts(),
                                 training_info=_trained_info(e5_like), benchmark_ids={"flores-npi": "me/flores-npi"},
                                 local_dir=tmp_path / "repo", dry_run=True))  # fmt: skip
    text = (folder / "README.md").read_text(encoding="utf-8")
    metadata = hub.validate_card(text, "model")
    assert metadata["base_model"] == "intfloat/multilingual-e5-small"  # from the folder's PROVENANCE.md
    assert metadata["license"] == "mit"  # the base model's licence, recorded in its provenance
    assert metadata["datasets"] == ["me/flores-npi"]
    assert metadata["metrics"] == ["recall_at_1", "recall_at_10"]
    assert str(e5_like) not in text and str(tmp_path) not in text  # no local path reaches the card
    assert (
        "Teacher (frozen, English side):** [intfloat/multilingual-e5-small]" in text and "4-bit build" in text
    )
    assert (
        "| `debias` | `False` |" in text and "| `regularization` | `entropic` |" in text
    )  # loss config, generic
    from huggingface_hub.repocard_data import model_index_to_eval_results

    _, results = model_index_to_eval_results(metadata["model-index"])
    assert {(r.dataset_type, r.dataset_config, r.metric_type) for r in results} == {
        ("me/flores-npi", "queries", "recall_at_1"),
        ("me/flores-npi", "queries", "recall_at_10"),
    }
    assert all(r.metric_args == {"query_prompt": "query: ", "document_prompt": "query: ", "query_encoder": "model",
                                 "document_encoder": "model"} for r in results)  # fmt: skip
    assert '`"query: "` / `"query: "`' in text  # the prompts column of the CLIR table
    assert "No training bitext of this model has a Hub dataset id (FLoRes v1" in caplog.text
    entries = yaml_load(folder / hub.EVAL_RESULTS_FILE)
    assert 'prompts (query / document) `"query: "` / `"query: "`' in entries[0]["notes"]


def test_a_trained_model_without_a_known_licence_is_refused(tiny_model_for_cards, tmp_path):
    info = {**_trained_info(tmp_path / "gone"), "base_model": "someone/unknown-model", "teacher": "someone/t"}
    with pytest.raises(ValueError, match="No licence is known for this trained model"):
        hub.push_model(
            tiny_model_for_cards, "me/x", training_info=info, local_dir=tmp_path / "x", dry_run=True
        )
    folder = hub.push_model(tiny_model_for_cards, "me/x", training_info=info, license="Apache 2.0",
                            local_dir=tmp_path / "y", dry_run=True)  # fmt: skip
    assert hub.validate_card((Path(folder) / "README.md").read_text(), "model")["license"] == "apache-2.0"


def test_results_without_a_hub_dataset_stay_out_of_model_index_with_a_warning(
    tiny_model_for_cards, tmp_path, caplog
):
    folder = hub.push_model(tiny_model_for_cards, "me/x", evaluation_results=_rows_with_prompts(), license="mit",
                            local_dir=tmp_path / "x", dry_run=True)  # fmt: skip
    metadata = hub.validate_card((Path(folder) / "README.md").read_text(), "model")
    assert "model-index" not in metadata and "flores-npi" in (Path(folder) / "README.md").read_text()
    assert "Results on flores-npi stay out of model-index" in caplog.text


def test_rows_from_a_hub_benchmark_link_themselves_and_multi_pair_configs_are_real(tiny_model_for_cards):
    rows = _rows_with_prompts(dataset_id="me/clir", dataset_config="npi_Deva-eng_Latn-queries")
    assert hub.dataset_links(rows) == [("me/clir", "npi_Deva-eng_Latn-queries")] * 2
    two_pairs = [*_rows_with_prompts(), *_rows_with_prompts(benchmark="flores-sin", query="sin_Sinh")]
    links = hub.dataset_links(two_pairs, {"flores-npi": "me/clir", "flores-sin": "me/clir"})
    assert {link[1] for link in links} == {"npi_Deva-eng_Latn-queries", "sin_Sinh-eng_Latn-queries"}


def test_pushing_a_folder_keeps_the_trainer_tags_and_widget_and_saves_the_document_prompt(
    e5_like, tmp_path, monkeypatch
):
    import shutil

    monkeypatch.chdir(tmp_path)  # a dry run writes its copy to ./optical-st-hub/, not into the model folder
    folder = tmp_path / "trained"
    shutil.copytree(e5_like, folder)
    (folder / "README.md").write_text(
        "---\ntags:\n- sentence-transformers\n- generated_from_trainer\n- dataset_size:12\n- loss:OTDistillLoss\n"
        "widget:\n- source_sentence: नेपाल\n  sentences:\n  - Nepal\n---\n# trainer card\n",
        encoding="utf-8",
    )
    written = Path(hub.push_model(folder, "me/student", training_info=_trained_info(e5_like), dry_run=True))
    metadata = hub.validate_card((written / "README.md").read_text(encoding="utf-8"), "model")
    assert {"generated_from_trainer", "dataset_size:12", "loss:OTDistillLoss", "optical-st"} <= set(
        metadata["tags"]
    )
    assert metadata["widget"] == [{"source_sentence": "नेपाल", "sentences": ["Nepal"]}]
    prompts = json.loads((written / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["document"] == "passage: "  # encode_document now adds what optical-st evaluated with


@pytest.fixture(scope="module")
def tiny_model_for_cards(tmp_path_factory):
    from tiny_models import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-cards"), ["नेपाल", "Nepal", "चिया"])


# the local Hub's metadata validation ----------------------------------------------------------------
GOOD_MODEL_CARD = """---
language: [en, ne]
license: mit
base_model: intfloat/multilingual-e5-small
datasets: [me/flores-npi]
tags: [sentence-transformers]
model-index:
- name: m
  results:
  - task: {type: retrieval}
    dataset: {type: me/flores-npi, name: FLORES, config: queries, split: test}
    metrics:
    - {type: recall_at_10, value: 0.75, args: {query_prompt: 'query: '}}
---
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("license: mit", "license: MIT License"), '"license" must be one of'),
        (
            ("language: [en, ne]", "language: [en, nepali]"),
            '"language[1]" with value "nepali" is not valid',
        ),
        (("language: [en, ne]", "language: [EN]"), '"language[0]" must only contain lowercase characters'),
        (
            ("base_model: intfloat/multilingual-e5-small", "base_model: /root/.cache/e5"),
            '"base_model" with value',
        ),
        (("datasets: [me/flores-npi]", "datasets: [../shared/data/flores200]"), '"datasets[0]" with value'),
        (("config: queries", "config: 3"), '"model-index[0].results[0].dataset.config" must be a string'),
        (("type: me/flores-npi, ", ""), '"model-index[0].results[0].dataset.type" is required'),
        (("value: 0.75, ", ""), '"model-index[0].results[0].metrics[0].value" is required'),
    ],
)
def test_the_local_hub_validates_card_metadata_like_the_hub(change, message):
    from hub_server import card_metadata_errors

    assert card_metadata_errors(GOOD_MODEL_CARD) == []
    errors = card_metadata_errors(GOOD_MODEL_CARD.replace(*change))
    assert any(message in error for error in errors), errors


def test_cards_the_project_renders_pass_the_local_hub(e5_like, tmp_path):
    from hub_server import card_metadata_errors
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_like), device="cpu")
    folder = hub.push_model(model, "me/student", evaluation_results=_rows_with_prompts(),
                            training_info=_trained_info(e5_like), benchmark_ids={"flores-npi": "me/flores-npi"},
                            local_dir=tmp_path / "m", dry_run=True)  # fmt: skip
    assert card_metadata_errors((Path(folder) / "README.md").read_text(encoding="utf-8")) == []
    dataset = hub.push_benchmark(_tiny_benchmark("npi_Deva"), "me/b", local_dir=tmp_path / "d", dry_run=True)
    assert card_metadata_errors((Path(dataset) / "README.md").read_text(encoding="utf-8"), "dataset") == []


def test_the_local_hub_answers_validate_yaml_and_refuses_a_commit_with_a_bad_card():
    import base64
    import urllib.error
    import urllib.request

    from hub_server import HubTestServer

    server = HubTestServer(valid_tokens={"hf_t"}).start()
    try:

        def post(path: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
            request = urllib.request.Request(f"{server.endpoint}{path}", data=body, method="POST",
                                             headers={"Content-Type": content_type, "Authorization": "Bearer hf_t"})  # fmt: skip
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read() or b"{}")

        bad = GOOD_MODEL_CARD.replace("license: mit", "license: MIT License")
        status, answer = post(
            "/api/validate-yaml", json.dumps({"content": bad, "repoType": "model"}).encode()
        )
        assert status == 400 and '"license" must be one of' in answer["errors"][0]["message"]
        assert post("/api/validate-yaml", json.dumps({"content": GOOD_MODEL_CARD}).encode())[0] == 200
        assert post("/api/repos/create", json.dumps({"name": "m", "type": "model"}).encode())[0] == 200
        commit = "\n".join(json.dumps(line) for line in [
            {"key": "header", "value": {"summary": "bad card"}},
            {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(bad.encode()).decode()}},
        ]).encode()  # fmt: skip
        status, answer = post("/api/models/user/m/commit/main", commit, "application/x-ndjson")
        assert status == 400 and "Invalid metadata in README.md" in answer["error"]
    finally:
        server.stop()


@pytest.mark.hub
def test_round_trip_reproduces_the_card_numbers_with_the_cards_own_snippet(reports):
    """Distil a tiny student, push it and two benchmarks, evaluate from the Hub, push the results; then
    plain SentenceTransformer("user/...") + load_dataset("user/...") in the card's snippet give its numbers."""
    evaluated = step(reports, "online", "distill_and_evaluate")
    assert evaluated["exit_code"] == 0
    assert evaluated["prompts"] == {
        "npi_Deva->eng_Latn": ["query: ", "query: ", "user/tiny-clir", "queries"],  # translation retrieval
        "npi_Deva->eng_Latn_passage": ["query: ", "passage: ", "user/tiny-clir-passage", "queries"],
    }
    trip = step(reports, "online", "round_trip")
    assert trip["exit_code"] == 0
    assert set(trip["claimed"]) == {"user/tiny-clir queries", "user/tiny-clir-passage queries"}
    assert trip["reproduced"] == pytest.approx(trip["claimed"], abs=1e-4)
    assert trip["metric_args"]["user/tiny-clir queries"]["document_prompt"] == "query: "
    assert trip["metric_args"]["user/tiny-clir-passage queries"]["document_prompt"] == "passage: "
    assert trip["document_prompt_gap"] == 0.0  # encode_document adds "passage: ", as optical-st does
    metadata = trip["metadata"]
    assert metadata["base_model"] == "intfloat/multilingual-e5-small"  # from the e5 folder's provenance
    assert metadata["license"] == "mit"
    assert metadata["datasets"] == ["user/tiny-clir", "user/tiny-clir-passage"]
    assert {"recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10"} <= set(metadata["metrics"])
    trainer = evaluated["trainer_card"]
    assert {"generated_from_trainer", "loss:OTDistillLoss"} <= set(trainer["tags"])
    assert set(trainer["tags"]) <= set(metadata["tags"])  # what the trainer wrote is kept
    assert metadata.get("widget") == trainer["widget"]
    assert not trip["local_path_in_card"]


@pytest.mark.hub
def test_the_hub_refuses_a_card_with_an_unknown_licence(reports):
    bad = step(reports, "online", "bad_card")
    assert bad["type"] == "HubError", bad
    assert '"license" must be one of' in bad["message"] and "bad-card" in bad["message"]
    assert bad["files_on_hub"] == []  # validated before anything was uploaded


def test_push_benchmark_of_a_bitext_folder_without_languages_says_to_pass_them(tmp_path, capsys):
    from optical_st.cli import main

    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "pairs.tsv").write_text(
        "english\ttarget\tlanguage\nthe cat\tबिरालो\tnpi_Deva\n", encoding="utf-8"
    )
    assert (
        main(["push-benchmark", str(folder), "user/x", "--dry-run", "--local-dir", str(tmp_path / "out")])
        == 1
    )
    assert capsys.readouterr().err.strip() == (
        f"optical-st push-benchmark: error: {folder} is bitext (table), not a saved benchmark: pass --languages "
        "(e.g. npi,sin or low) to build one benchmark per language from it"
    )
