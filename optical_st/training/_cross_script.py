"""Cross-script training pairs: the frozen teacher reads the native script, the student the romanized one.

OPTICAL's problem in its purest form: two scripts of the same words, and a token alignment between
them. From any native-script text (the target side of bitext, or plain sentences) each pair is

=================  ==========================================  ================================
pair kind          ``english`` column: what the teacher reads   ``target``: what the student reads
=================  ==========================================  ================================
``romanized``      the native sentence (``teacher_side="native"``) or its English translation
                   (``"english"``, OPTICAL's own setting)       its romanization (``npi_Latn``)
``native``         the same                                    the native sentence (``npi_Deva``)
=================  ==========================================  ================================

A seeded ``native_share`` of the pairs are ``native`` ones, so the student keeps reading the native
script as well as the teacher does. The columns are :func:`~optical_st.data.load_bitext`'s plus
``native`` (the native sentence, which the evaluation-overlap filter also checks), ``kind`` and
``romanizer`` (the romanizer's :meth:`~optical_st.data.Romanizer.to_dict` as JSON, recorded by the run).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Literal

from datasets import Dataset

from optical_st.data import Romanizer, romanize_bitext
from optical_st.languages import get_language, native_code
from optical_st.training._pairs import drop_repeats

TEACHER_SIDES: tuple[str, ...] = ("native", "english")
PAIR_COLUMNS: tuple[str, ...] = (
    "id",
    "language",
    "english",
    "target",
    "doc_id",
    "source",
    "native",
    "kind",
    "romanizer",
)
PAIR_KINDS: tuple[str, ...] = ("romanized", "native")


def cross_script_pairs(
    text: Dataset | Sequence[str],
    romanizer: Romanizer | None = None,
    *,
    native_share: float = 0.5,
    teacher_side: Literal["native", "english"] = "native",
    language: str | None = None,
    seed: int = 0,
) -> Dataset:
    """Training pairs (teacher text, student text) from native-script text; see the module docstring.

    Args:
        text: bitext in the :func:`~optical_st.data.load_bitext` layout (its ``target`` side is used), or
            plain native-script sentences with ``language``.
        romanizer: writes the student's side (default :class:`~optical_st.data.Romanizer`: uroman).
        native_share: fraction of pairs in which the student reads the native sentence itself.
        teacher_side: ``"native"`` (the teacher reads the native sentence: any text will do) or
            ``"english"`` (its English translation; needs bitext).
        language: the language of plain sentences (ignored for bitext, which has its own column).
        seed: which pairs are native ones.

    Returns:
        A dataset with columns ``id, language, english, target, doc_id, source, native, kind, romanizer``;
        repeated native sentences are kept once per language.

    Raises:
        ValueError: a bad share or side, English teacher text without bitext, romanized input, or a
            language the romanizer cannot write.

    Example::

        >>> pairs = cross_script_pairs(["मेरो देश नेपाल हो।", "नमस्ते"], language="ne", native_share=0.5)
        >>> sorted(zip(pairs["kind"], pairs["target"]))
        [('native', 'नमस्ते'), ('romanized', 'mero desh nepaal ho.')]
    """
    if not 0.0 <= native_share <= 1.0:
        raise ValueError(f"native_share must be between 0 and 1, got {native_share}")
    if teacher_side not in TEACHER_SIDES:
        raise ValueError(f"teacher_side must be one of {', '.join(TEACHER_SIDES)}, got {teacher_side!r}")
    bitext = _as_bitext(text, language, teacher_side)
    bitext = drop_repeats(bitext, ("language", "target"))  # Tatoeba and FLoRes v1 repeat lines
    romanizer = romanizer or Romanizer()
    romanized = romanize_bitext(bitext, romanizer)
    native_rows = set(random.Random(seed).sample(range(len(romanized)), round(native_share * len(romanized))))
    described = json.dumps(romanizer.to_dict(), sort_keys=True)
    columns: dict[str, list[str]] = {name: [] for name in PAIR_COLUMNS}
    for index, row in enumerate(romanized):
        kind = "native" if index in native_rows else "romanized"
        columns["id"].append(row["id"])
        columns["language"].append(native_code(row["language"]) if kind == "native" else row["language"])
        columns["english"].append(row["native"] if teacher_side == "native" else row["english"])
        columns["target"].append(row["native"] if kind == "native" else row["target"])
        columns["doc_id"].append(row.get("doc_id") or "")
        columns["source"].append(row.get("source") or "")
        columns["native"].append(row["native"])
        columns["kind"].append(kind)
        columns["romanizer"].append(described if kind == "romanized" else "")
    return Dataset.from_dict(columns)


def _as_bitext(text: Dataset | Sequence[str], language: str | None, teacher_side: str) -> Dataset:
    if isinstance(text, Dataset):
        missing = {"target", "language"} - set(text.column_names)
        if missing:
            raise ValueError(f"bitext lacks column(s) {sorted(missing)}; load it with load_bitext()")
        return text
    if isinstance(text, str):
        raise ValueError("text must be a list of sentences or a bitext Dataset, not one string")
    if teacher_side == "english":
        raise ValueError('teacher_side="english" needs bitext with English translations, not plain sentences')
    if language is None:
        raise ValueError("plain sentences need language= (e.g. language='npi')")
    code = get_language(language).code
    if get_language(code).is_romanized:
        raise ValueError(f"{code} is romanized already; give native-script text and its native language")
    sentences = [sentence.strip() for sentence in text if sentence and sentence.strip()]
    return Dataset.from_dict(
        {
            "id": [str(i) for i in range(len(sentences))],
            "language": [code] * len(sentences),
            "english": [""] * len(sentences),
            "target": sentences,
            "doc_id": [""] * len(sentences),
            "source": ["text"] * len(sentences),
        }
    )
