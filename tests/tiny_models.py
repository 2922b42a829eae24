"""Tiny but real sentence-transformers models built inside the tests (no Hub, no downloads).

A WordPiece tokenizer is trained in well under a second on the texts given (e.g. a few hundred lines
of the shared bitext), and a 2-layer BERT with random weights sits on top, followed by mean pooling
and normalisation: the same module layout as multilingual-e5-small, about 0.2 M parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Normalize, Pooling, Transformer
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

DEFAULT_TEXTS = (
    "the cat sat on the mat",
    "a dog runs in the park",
    "नेपाल एक सुन्दर देश हो",
    "ශ්‍රී ලංකාව දූපතකි",
    "यह एक परीक्षण वाक्य है",
    "retrieval across languages needs alignment",
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 500) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_max_length=128,
    )  # fmt: skip


def make_tiny_model(
    directory: str | Path,
    texts: Iterable[str] = DEFAULT_TEXTS,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    vocab_size: int = 500,
    seed: int = 0,
    max_seq_length: int = 64,
    dropout: float = 0.1,
) -> SentenceTransformer:
    """Build, save under ``directory`` and return a tiny mean-pooled, normalised SentenceTransformer."""
    directory = Path(directory)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=2, intermediate_size=2 * hidden_size, max_position_embeddings=max_seq_length + 2,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )  # fmt: skip
    transformer_dir = directory / "transformer"
    BertModel(config, add_pooling_layer=False).save_pretrained(transformer_dir)
    tokenizer.save_pretrained(transformer_dir)
    transformer = Transformer(str(transformer_dir), max_seq_length=max_seq_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    model.save(str(directory / "model"))
    return SentenceTransformer(str(directory / "model"), device="cpu")


def gate_document_encoding(
    model: SentenceTransformer, texts: Iterable[str], gate, started, timeout: float = 30
):
    """Make ``model`` wait for ``gate`` (a threading.Event) before encoding documents among ``texts``.

    ``started`` is set when such an encoding begins, so a test decides how long "indexing" lasts
    (the demo's concurrency tests search while it is held).
    """
    original, blocked = model.encode_document, set(texts)

    def encode_document(batch, *args, **kwargs):
        if blocked & set(batch):
            started.set()
            gate.wait(timeout=timeout)
        return original(batch, *args, **kwargs)

    model.encode_document = encode_document
