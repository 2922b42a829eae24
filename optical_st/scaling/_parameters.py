"""Model size: cutting a model to its first layers, and counting its (embedding, non-embedding) parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer


def _layer_list(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The ``nn.ModuleList`` of transformer blocks (``encoder.layer`` in BERT/XLM-R, ``layers`` elsewhere)."""
    import torch

    config = getattr(model, "config", None)
    n_layers = getattr(config, "num_hidden_layers", None)
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers and len(module) > 0
    ]
    if len(candidates) > 1:
        candidates = [(n, m) for n, m in candidates if n.split(".")[-1] in ("layer", "layers", "block")]
    if len(candidates) != 1:
        raise ValueError(
            f"cannot find the transformer layers of {type(model).__name__} "
            f"(config.num_hidden_layers={n_layers}; candidate module lists: {[n for n, _ in candidates]})"
        )
    return candidates[0][1]


def truncate_layers(model: SentenceTransformer, keep: int) -> SentenceTransformer:
    """Keep the first ``keep`` transformer layers of a SentenceTransformer, in place; return it.

    The embeddings, pooling and normalisation stay as they are, and ``config.num_hidden_layers`` is
    updated so ``model.save`` writes a model that loads back truncated.

    Raises:
        ValueError: ``keep`` is not between 1 and the model's layer count, or the layers cannot be found.

    Example::

        >>> model = truncate_layers(SentenceTransformer("intfloat/multilingual-e5-small"), 6)  # doctest: +SKIP
        >>> model[0].auto_model.config.num_hidden_layers  # doctest: +SKIP
        6
    """
    auto_model = getattr(model[0], "auto_model", None)
    if auto_model is None:
        raise ValueError(f"cannot truncate {type(model[0]).__name__}: it has no Hugging Face auto_model")
    layers = _layer_list(auto_model)
    if not 1 <= keep <= len(layers):
        raise ValueError(
            f"cannot keep {keep} layers of a model with {len(layers)} layers (use 1..{len(layers)})"
        )
    del layers[keep:]
    auto_model.config.num_hidden_layers = keep
    return model


def count_layers(model: SentenceTransformer) -> int | None:
    """Transformer layers of the model's first module (``None`` if it has no Hugging Face config)."""
    auto_model = getattr(model[0], "auto_model", None)
    try:
        return len(_layer_list(auto_model)) if auto_model is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a model: ``total = embedding + non_embedding``.

    ``embedding`` counts every ``torch.nn.Embedding`` weight (word/vocabulary, position and token-type
    tables); LayerNorms, attention, feed-forward and any extra heads (e.g. a Dense projection) are
    ``non_embedding``. Shared (tied) tensors are counted once.
    """

    total: int
    embedding: int
    non_embedding: int


def count_parameters(model: torch.nn.Module) -> ParameterCount:
    """Count total, embedding and non-embedding parameters of ``model`` (any ``nn.Module``).

    Example::

        >>> import torch
        >>> count_parameters(torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2)))
        ParameterCount(total=50, embedding=40, non_embedding=10)
    """
    import torch

    embedding_ids = {
        id(parameter)
        for module in model.modules()
        if isinstance(module, torch.nn.Embedding)
        for parameter in module.parameters(recurse=False)
    }
    total = embedding = 0
    for parameter in model.parameters():  # deduplicated by torch: tied weights count once
        total += parameter.numel()
        if id(parameter) in embedding_ids:
            embedding += parameter.numel()
    return ParameterCount(total, embedding, total - embedding)
