"""What both cards share: the templates, language labels, secret scrubbing and metadata validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from optical_st.languages import UnknownLanguageError, get_language

MODEL_CARD_REQUIRED = ("language", "library_name", "pipeline_tag", "tags")
DATASET_CARD_REQUIRED = ("license", "language", "configs", "task_categories", "pretty_name")
SECRET_KEY = re.compile(r"token|secret|password|api_?key|authorization", re.IGNORECASE)


# helpers shared by both cards ----------------------------------------------------------------------
def cards_dir() -> Path:
    """The folder holding the Jinja card templates (packaged copy first, then the source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "hub_cards", here.parent / "hub_cards"):
        if (candidate / "model_card.md").is_file():
            return candidate
    raise FileNotFoundError(f"Card templates not found next to {here} (expected hub_cards/model_card.md).")


def iso_code(code: str) -> str | None:
    try:
        language = get_language(code)
    except UnknownLanguageError:
        return None
    return language.iso639_1 or language.iso639_3


def scrub(value: Any) -> Any:
    """Copy of a JSON-like value with secret-looking keys dropped (tokens never reach a card)."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def yaml_front_matter(text: str) -> dict:
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.DOTALL)
    if not match:
        raise ValueError("The card has no YAML front matter.")
    data = yaml.safe_load(match.group(1)) or {}
    if not isinstance(data, dict):
        raise ValueError("The card's YAML front matter is not a mapping.")
    return data


def validate_card(text: str, kind: str) -> dict:
    """Parse a card's YAML metadata and check the fields the Hub and this project rely on.

    Args:
        text: the whole ``README.md``.
        kind: ``"model"`` or ``"dataset"``.

    Returns:
        The parsed metadata.

    Raises:
        ValueError: metadata does not parse, required fields are missing/empty (all named), or
            ``base_model``/``datasets`` hold something other than Hub ids.
    """
    data = yaml_front_matter(text)
    required = MODEL_CARD_REQUIRED if kind == "model" else DATASET_CARD_REQUIRED
    missing = [name for name in required if not data.get(name)]
    if missing:
        raise ValueError(f"The {kind} card lacks required metadata: {', '.join(missing)}.")
    if kind == "model" and "model-index" in data:
        from huggingface_hub.repocard_data import model_index_to_eval_results

        model_index_to_eval_results(data["model-index"])  # raises on a malformed model-index
    # Hub ids, never local paths: the Hub links these fields to repositories.
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    for name in ("base_model", "datasets"):
        bad = []
        for value in as_list(data.get(name)):
            try:
                validate_repo_id(value)
            except (HFValidationError, TypeError):
                bad.append(value)
        if bad:
            raise ValueError(f"The {kind} card's {name} must be Hub ids (owner/name), got {bad}.")
    if kind == "dataset":
        for config in data["configs"]:
            if not config.get("config_name") or not config.get("data_files"):
                raise ValueError(f"Dataset card config without name or data_files: {config!r}")
    return data


def benchmark_meta(benchmark: Any, *names: str) -> Any:
    metadata = getattr(benchmark, "metadata", None) or {}
    for name in names:
        if metadata.get(name):
            return metadata[name]
    return None
