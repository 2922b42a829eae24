"""The docs match their commands: every documented command parses, the cheap ones run on a tiny model,
and every evaluation number in README.md and docs/evaluation.md is what its results file says."""

from __future__ import annotations

import argparse
import json
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from optical_st.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = ("pip ", "hf ", "export ", "bash ", "accelerate config", "CI=", "cd ")  # not this project's commands


def shell_blocks(text: str) -> list[str]:
    """The contents of fenced blocks marked ``bash``/``sh`` or unmarked (fences paired line by line)."""
    blocks, current, language = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, language = [], line[3:].strip()
            else:
                if language in ("bash", "sh", ""):
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def documented_commands() -> list[tuple[str, str]]:
    """``(file, command)`` for every command line of every shell block (continuations joined)."""
    found = []
    for path in DOCS:
        for block in shell_blocks(path.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("&&"):
                    command = re.sub(r"\s+#\s.*$", "", part).strip()  # drop trailing comments
                    if command and not command.startswith("#"):
                        found.append((path.relative_to(ROOT).as_posix(), command))
    return found


def argv_of(command: str) -> tuple[str, list[str]] | None:
    """``("optical-st" | script path, arguments)``, or None for commands that are not this project's."""
    if " ..." in command:  # an outline such as `accelerate launch -m optical_st.cli train ...`
        return None
    try:
        words = shlex.split(command)
    except ValueError:  # not shell (a plain ``` block of output or code)
        return None
    if words[:1] == ["flock"]:
        words = words[2:]
    if not words or re.fullmatch(r"\w+=.*", words[0]) or command.startswith(SKIP):
        return None
    if words[0].endswith("optical-st"):
        return "optical-st", words[1:]
    if words[:3] == ["accelerate", "launch", "-m"] or ("-m" in words[:6] and "optical_st.cli" in words):
        return "optical-st", words[words.index("optical_st.cli") + 1 :]
    if words[0].endswith("python") and len(words) > 1 and words[1].endswith(".py"):
        return words[1], words[2:]
    return None


COMMANDS = [(doc, command, argv_of(command)) for doc, command in documented_commands()]
PROJECT_COMMANDS = [(doc, command, parsed) for doc, command, parsed in COMMANDS if parsed]


def test_the_docs_document_commands():
    assert len(PROJECT_COMMANDS) > 20
    assert {"optical-st", "scripts/doc_numbers.py", "experiments/optical_flores.py"} <= {
        parsed[0] for _, _, parsed in PROJECT_COMMANDS
    }


class _Parsed(Exception):
    pass


@pytest.mark.parametrize(
    ("doc", "command", "parsed"), PROJECT_COMMANDS, ids=[c for _, c, _ in PROJECT_COMMANDS]
)
def test_every_documented_command_parses(doc, command, parsed, monkeypatch, capsys):
    program, argv = parsed
    if program == "optical-st":
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` does not parse: {capsys.readouterr().err}")
        return
    # A script: run it until its parser has parsed the documented arguments, then stop.
    script = ROOT / program
    assert script.is_file(), f"{doc}: {program} does not exist"
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        original(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    monkeypatch.setattr(sys, "argv", [str(script), *argv])
    monkeypatch.chdir(ROOT)
    with pytest.raises(_Parsed):
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` does not parse: {capsys.readouterr().err}")


# The cheap commands run on a tiny model -------------------------------------------------------------------
MODEL_OPTIONS = ("--model", "--english-model")


def _cheap(argv: list[str]) -> bool:
    if argv[:1] == ["languages"]:
        return True
    if argv[:1] == ["push-benchmark"]:
        return Path(ROOT, argv[1]).exists()
    if argv[:1] == ["evaluate"]:
        specs = [argv[i + 1] for i, word in enumerate(argv) if word == "--benchmark"]
        return all(spec.startswith("../shared/data/") for spec in specs) and "--cache-dir" not in argv
    return False


CHEAP = list(  # each distinct command once (README and docs/evaluation.md share some)
    {
        tuple(parsed[1]): (doc, command, parsed[1])
        for doc, command, parsed in PROJECT_COMMANDS
        if parsed[0] == "optical-st" and _cheap(parsed[1])
    }.values()
)


@pytest.fixture
def one_thread():
    """A tiny model's matrices are too small for a second thread; under load two spin against each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from tiny_models import make_tiny_model

    root = tmp_path_factory.mktemp("docs-tiny")
    make_tiny_model(root, ["नेपाल एक सुन्दर देश हो", "Nepal is a beautiful country", "ශ්‍රී ලංකාව"])
    return root / "model"


def _on_tiny_model(argv: list[str], model: Path, output: Path) -> list[str]:
    """The documented arguments with the model replaced by the tiny one and outputs sent to ``output``."""
    out = list(argv)
    for index, word in enumerate(out[:-1]):
        if word in MODEL_OPTIONS:
            out[index + 1] = str(model)
        elif word == "--output":
            out[index + 1] = str(output / Path(out[index + 1]).name)
    if out[0] == "push-benchmark":
        out += ["--dry-run", "--local-dir", str(output / "benchmark")]
    return out


def test_some_documented_commands_are_cheap_enough_to_run(shared_data):
    # push-benchmark counts as cheap only where its ../shared/data folder exists: skip where it does not
    assert {argv[0] for _, _, argv in CHEAP} == {"languages", "evaluate", "push-benchmark"}


@pytest.mark.parametrize(("doc", "command", "argv"), CHEAP, ids=[c for _, c, _ in CHEAP])
def test_cheap_documented_commands_run_on_a_tiny_model(
    doc, command, argv, tiny_model_dir, shared_data, tmp_path, monkeypatch, one_thread
):
    from optical_st.cli import main

    monkeypatch.chdir(ROOT)  # commands in the docs run from the project root
    assert main(_on_tiny_model(argv, tiny_model_dir, tmp_path)) == 0, f"{doc}: `{command}` failed"


# Every evaluation number in the docs comes from a results file written by its documented command ---------
def _doc_numbers():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import doc_numbers
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return doc_numbers


def test_docs_quote_the_numbers_of_their_results_files():
    result = subprocess.run(
        [sys.executable, "scripts/doc_numbers.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_results_files_record_the_documented_command_and_prompts_and_no_local_path():
    doc_numbers = _doc_numbers()
    documented = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
    for stem, command in doc_numbers.RUNS.items():
        text = (doc_numbers.RESULTS / f"{stem}.json").read_text(encoding="utf-8")
        run = json.loads(text)
        assert run["command"] == command and command in documented
        assert all({"query_prompt", "document_prompt"} <= set(b) for b in run["benchmarks"])
        assert run["model_provenance"]["base_model"] == "intfloat/multilingual-e5-small"
        assert not re.search(r'"(/root|/home|/work|/tmp)/', text), f"{stem}: a local path is recorded"


def test_the_documented_evaluate_options_exist():
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        option for action in subcommands.choices["evaluate"]._actions for option in action.option_strings
    }
    table = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8").split("## Command line", 1)[1]
    documented = {
        option
        for row in re.findall(r"^\| (`--.*?) \|", table, flags=re.MULTILINE)
        for option in re.findall(r"`(--[\w-]+)", row)
    }
    assert len(documented) > 10 and documented <= options, documented - options
