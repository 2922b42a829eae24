"""Model specs: a folder or Hub id, ``truncate:SRC:N``, ``ladder:SRC:3,6,9,12`` or ``preset:NAME``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


from optical_st.scaling._parameters import truncate_layers

ZERO_SHOT = "zero-shot"
DISTILLED = "ot-distilled"
CONDITIONS: tuple[str, ...] = (ZERO_SHOT, DISTILLED)
"""The two conditions a model is evaluated in: as it is, and after OT distillation."""
PRESETS: dict[str, tuple[str, ...]] = {
    # The public multilingual encoder families, smallest to largest within each family. Needs Hub access.
    "public-families": (
        "multilingual-e5-small=intfloat/multilingual-e5-small",
        "multilingual-e5-base=intfloat/multilingual-e5-base",
        "multilingual-e5-large=intfloat/multilingual-e5-large",
        "xlm-roberta-base=FacebookAI/xlm-roberta-base",
        "xlm-roberta-large=FacebookAI/xlm-roberta-large",
        "LaBSE=sentence-transformers/LaBSE",
        "paraphrase-multilingual-MiniLM-L12-v2=sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        "paraphrase-multilingual-mpnet-base-v2=sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
    ),
    # The controlled ladder used offline: multilingual-e5-small cut to its first 3/6/9/12 layers.
    "me5-small-ladder": ("ladder:intfloat/multilingual-e5-small:3,6,9,12",),
}
"""Named model lists for ``preset:NAME`` (see ``docs/scaling.md``)."""


@dataclass(frozen=True)
class ModelSpec:
    """One encoder of the study.

    Args:
        name: unique label (file names, table columns, plot points).
        source: local sentence-transformers folder or Hub id (``None``: the default
            multilingual-e5-small of :func:`optical_st.pretrained.load_sentence_transformer`).
        keep_layers: keep only the first ``keep_layers`` transformer layers (``None``: all).
        spec: the text the spec was parsed from (recorded in the results).
    """

    name: str
    source: str | None
    keep_layers: int | None = None
    spec: str = ""

    def load(self, device: str | None = None) -> SentenceTransformer:
        """Load the model (through :mod:`optical_st.pretrained`) and truncate it if asked."""
        from optical_st.pretrained import load_sentence_transformer

        model = load_sentence_transformer(self.source, device=device)
        if self.keep_layers is not None:
            truncate_layers(model, self.keep_layers)
        return model

    def full_depth(self) -> ModelSpec:
        """The same model without truncation (the default teacher of a truncated student)."""
        return ModelSpec(_default_name(self.source), self.source, None, self.source or "")


def _default_name(source: str | None) -> str:
    if source is None:
        return "multilingual-e5-small"
    return Path(source.rstrip("/")).name or source


def _parse_layers(text: str, spec: str) -> list[int]:
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        layers = []
    if not layers or any(n < 1 for n in layers):
        raise ValueError(f"model spec {spec!r}: layer counts must be positive integers like 3,6,9,12")
    return layers


def parse_model_spec(text: str) -> list[ModelSpec]:
    """Parse one model spec into one or more :class:`ModelSpec` (a ladder or preset gives several).

    Forms (``NAME=`` in front of a single-model form sets its name):

    * ``PATH_OR_HUB_ID`` - a model as it is;
    * ``truncate:SRC:N`` / ``truncate:N`` - the first ``N`` layers of ``SRC`` (default model if omitted);
    * ``ladder:SRC:3,6,9,12`` / ``ladder:3,6,9,12`` - one truncation per count, named ``<src>-L<n>``;
    * ``preset:NAME`` - a list from :data:`PRESETS`;
    * several of these separated by commas (:func:`split_model_list`), e.g. the e5 family
      ``intfloat/multilingual-e5-small,intfloat/multilingual-e5-base,intfloat/multilingual-e5-large``.

    Example::

        >>> [s.name for s in parse_model_spec("ladder:/models/me5-small:3,12")]
        ['me5-small-L3', 'me5-small-L12']
        >>> parse_model_spec("tiny=truncate:/models/me5-small:6")[0].keep_layers
        6
    """
    text = text.strip()
    if not text:
        raise ValueError("empty model spec")
    items = split_model_list(text)
    if len(items) > 1:
        return [spec for item in items for spec in parse_model_spec(item)]
    if text.startswith("preset:"):
        preset = text.removeprefix("preset:")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
        return [spec for item in PRESETS[preset] for spec in parse_model_spec(item)]
    name = None
    head = text.split(":", 1)[0]
    if "=" in head:
        name, text = (part.strip() for part in text.split("=", 1))
        if not name:
            raise ValueError(f"model spec {text!r}: empty name before '='")
    if text.startswith(("truncate:", "ladder:")):
        kind, rest = text.split(":", 1)
        source, _, layers_text = rest.rpartition(":")
        source = source or None
        layers = _parse_layers(layers_text, text)
        if kind == "truncate" and len(layers) != 1:
            raise ValueError(f"model spec {text!r}: truncate takes one layer count; use ladder: for several")
        if kind == "ladder" and name is not None:
            raise ValueError(f"model spec {text!r}: a ladder names its models itself (<source>-L<n>)")
        base = _default_name(source)
        return [
            ModelSpec(name or f"{base}-L{n}", source, n, f"truncate:{source or ''}:{n}".replace("::", ":"))
            for n in layers
        ]
    return [ModelSpec(name or _default_name(text), text, None, text)]


def split_model_list(text: str) -> list[str]:
    """Split a comma-separated list of model specs; the layer counts of a ladder stay with it.

    A part that is only a number continues the ``ladder:``/``truncate:`` spec before it, so
    ``ladder:SRC:3,6,intfloat/multilingual-e5-base`` is two specs. A folder whose path contains a comma
    cannot be named this way (rename it).

    Example::

        >>> split_model_list("intfloat/multilingual-e5-small,intfloat/multilingual-e5-base")
        ['intfloat/multilingual-e5-small', 'intfloat/multilingual-e5-base']
        >>> split_model_list("ladder:/m/e5:3,6,LaBSE=sentence-transformers/LaBSE")
        ['ladder:/m/e5:3,6', 'LaBSE=sentence-transformers/LaBSE']
    """
    items: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        layered = items and re.search(r"(^|=)(ladder|truncate):", items[-1])
        if layered and part.isdigit():
            items[-1] += f",{part}"
        elif part:
            items.append(part)
    return items


def parse_model_specs(texts: Iterable[str]) -> list[ModelSpec]:
    """Parse several specs; raise a ``ValueError`` naming any duplicate model names."""
    specs = [spec for text in texts for spec in parse_model_spec(text)]
    if not specs:
        raise ValueError("no models given")
    check_unique_names(specs)
    return specs


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.+-]", "_", name)


def check_unique_names(specs: Sequence[ModelSpec]) -> None:
    """Model names label result files: two models with the same (file-safe) name would overwrite each other."""
    seen: dict[str, str] = {}
    duplicates = []
    for spec in specs:
        key = safe_name(spec.name).casefold()
        if key in seen:
            duplicates.append(f"{spec.name!r} ({seen[key]} and {spec.spec or spec.source})")
        seen[key] = spec.spec or str(spec.source)
    if duplicates:
        raise ValueError(
            "duplicate model names: " + "; ".join(duplicates) + ". Name models explicitly with NAME=SPEC."
        )
