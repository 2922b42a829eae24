"""The ``optical-st`` entry point: installed, fast help, readable errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from optical_st.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_console_script_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "optical_st.cli", "--help"], capture_output=True, text=True, check=True
    )
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: optical-st" in capsys.readouterr().out


def test_languages_command_prints_the_low_resource_tier(capsys):
    assert main(["languages", "--tier", "low"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert sorted(row.split()[0] for row in rows) == sorted(
        ["asm_Beng", "npi_Deva", "ory_Orya", "snd_Arab", "sin_Sinh"]
    )


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, optical_st.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_parser_builds_without_side_effects():
    assert build_parser().prog == "optical-st"


def test_ci_runs_exactly_the_test_command_in_the_readme():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"TEST_COMMAND='([^']+)'", ci).group(1)
    readme_blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert command in [block.strip() for block in readme_blocks]


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_demo_rejects_a_port_out_of_range_before_starting(port, capsys):
    assert main(["demo", "--port", port]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"optical-st demo: error: --port must be between 1 and 65535, got {port}"
    )


def test_demo_tells_a_bad_host_from_a_busy_port_before_starting(monkeypatch, capsys):
    import socket

    from optical_st import app

    monkeypatch.setattr(app, "launch", lambda *a, **k: pytest.fail("the server was started"))
    assert main(["demo", "--host", "999.1.1.1"]) == 1
    assert (
        capsys.readouterr().err.strip() == "optical-st demo: error: --host '999.1.1.1' is not an IP address"
    )
    assert main(["demo", "--host", "192.0.2.1"]) == 1  # an address, but not this machine's
    assert "--host '192.0.2.1' cannot be served from this machine" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 1
    assert f"--port {port} is in use on 127.0.0.1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "1,abc"], "--k takes comma-separated whole numbers like 1,5,10; 'abc' is not one"),
        (["--device", "cuda"], "--device 'cuda' cannot be used on this machine"),
        (["--n-bootstrap", "-5"], "--n-bootstrap must be 0 or more (0: none), got -5"),
        (["--distill-epochs", "0"], "--distill-epochs must be positive, got 0.0"),
        (["--distill-max-length", "0"], "--distill-max-length must be positive, got 0"),
        (["--k", "1,5"], "--report-k 10 is not among --k 1,5: the report would have no recall@10; add it"),
    ],
)
def test_scale_rejects_bad_values_before_any_work(tmp_path, capsys, extra, message):
    argv = ["scale", "--models", str(tmp_path / "m"), "--benchmark", str(tmp_path / "b"),
            "--output-dir", str(tmp_path / "out"), *extra]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_sigterm_during_a_run_is_one_line_and_exit_code_143(monkeypatch, capsys):
    from optical_st.commands import languages
    from optical_st.training import RunTerminated

    def terminated(args):
        raise RunTerminated("terminated by SIGTERM")

    monkeypatch.setattr(languages, "run", terminated)
    assert main(["languages"]) == 143
    assert capsys.readouterr().err.strip() == "optical-st languages: terminated by SIGTERM"
