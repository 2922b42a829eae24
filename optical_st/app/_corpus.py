"""The demo's corpus: documents of every language of a bitext file (the shipped sample or an upload)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optical_st
from optical_st.languages import ENGLISH

RESOURCES = Path(optical_st.__file__).parent / "resources"
SHIPPED_CORPUS = RESOURCES / "demo_corpus" / "demo_corpus.jsonl"
SHIPPED_CORPUS_NAME = "NTREX-128 news, FLORES-200 and FLoRes v1 Wikipedia sample, CC BY-SA 4.0"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS = 50_000
MAX_EXAMPLES = 6

# One shipped sentence per language (row ids of demo_corpus.jsonl); the English side is in the corpus.
EXAMPLE_IDS = {
    "npi_Deva": "ntrex128-0604-npi_Deva",
    "sin_Sinh": "ntrex128-1396-sin_Sinh",
    "hin_Deva": "ntrex128-0865-hin_Deva",
    "ben_Beng": "ntrex128-1317-ben_Beng",
    "tam_Taml": "ntrex128-0253-tam_Taml",
    "urd_Arab": "ntrex128-0692-urd_Arab",
}


class DemoInputError(ValueError):
    """Bad user input; the message is shown in the UI as is (after escaping)."""


@dataclass(frozen=True)
class Document:
    """One searchable text; ``english`` is its English translation when the corpus has one."""

    id: str
    language: str
    text: str
    english: str | None = None


@dataclass
class DemoCorpus:
    """Documents of every language of a bitext corpus: each English sentence once, each translation once."""

    name: str
    key: str  # content hash: the cache key of its embeddings
    documents: list[Document]
    by_id: dict[str, Document] = field(init=False, repr=False)
    languages: list[str] = field(init=False)
    """Languages present, English first, then in order of first appearance."""

    def __post_init__(self) -> None:
        self.by_id = {document.id: document for document in self.documents}
        seen = list(dict.fromkeys(document.language for document in self.documents))
        self.languages = sorted(seen, key=lambda code: (code != ENGLISH, seen.index(code)))

    def documents_in(self, language: str) -> list[Document]:
        return [document for document in self.documents if document.language == language]

    def summary(self) -> str:
        return f"{self.name} ({len(self.documents):,} documents in {len(self.languages)} languages)"


def corpus_from_bitext(rows: Sequence[dict], name: str, key: str) -> DemoCorpus:
    """Build the document collection of a bitext: English sentences (deduplicated) plus every target."""
    documents: list[Document] = []
    english_ids: dict[str, str] = {}
    for row in rows:
        if row["english"] not in english_ids:
            english_ids[row["english"]] = f"eng_Latn:{len(english_ids) + 1}"
            documents.append(Document(english_ids[row["english"]], ENGLISH, row["english"]))
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if (row["language"], row["target"]) in seen:
            continue  # a repeated target sentence is one document
        seen.add((row["language"], row["target"]))
        documents.append(
            Document(f"{row['language']}:{row['id']}", row["language"], row["target"], row["english"])
        )
    if len(documents) > MAX_DOCUMENTS:
        raise DemoInputError(
            f"The corpus has {len(documents):,} documents; the demo takes at most {MAX_DOCUMENTS:,}."
        )
    return DemoCorpus(name=name, key=key, documents=documents)


def load_corpus(path: str | os.PathLike[str] | None = None, *, name: str | None = None) -> DemoCorpus:
    """Load and validate a bitext TSV/JSONL (columns ``english``, ``target``, ``language``) as a corpus.

    ``None`` loads the shipped corpus (:data:`SHIPPED_CORPUS`). Raises :class:`DemoInputError` with a readable message.
    """
    from optical_st.data import load_bitext

    path = Path(path) if path is not None else SHIPPED_CORPUS
    if not path.is_file():
        raise DemoInputError(f"No such file: {path.name}")
    if path.suffix.lower() not in (".tsv", ".jsonl"):
        raise DemoInputError(
            f"{path.name}: upload a .tsv (header: english, target, language) or a .jsonl file "
            "(one object per line with english, target, language)."
        )
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise DemoInputError(
            f"{path.name} is {size / 2**20:.1f} MB; the demo takes files up to {MAX_UPLOAD_BYTES // 2**20} MB."
        )
    try:
        dataset = load_bitext(path)
    except (ValueError, UnicodeDecodeError) as error:  # BitextValidationError, UnknownLanguageError
        raise DemoInputError(str(error).replace(str(path), path.name)) from None
    if len(dataset) == 0:
        raise DemoInputError(f"{path.name}: no rows.")
    key = hashlib.blake2b(path.read_bytes(), digest_size=12).hexdigest()
    return corpus_from_bitext(dataset.to_list(), name or path.name, key)


def example_queries(corpus: DemoCorpus) -> dict[str, str]:
    """Language code -> example query, always from ``corpus`` itself.

    The shipped corpus uses hand-picked rows (:data:`EXAMPLE_IDS`); any other corpus offers its first
    document in each non-English language (its first English one if it has no other).
    """
    picked = {
        code: corpus.by_id[f"{code}:{row_id}"].text
        for code, row_id in EXAMPLE_IDS.items()
        if f"{code}:{row_id}" in corpus.by_id
    }
    if picked:
        return picked
    languages = [code for code in corpus.languages if code != ENGLISH] or corpus.languages
    return {code: corpus.documents_in(code)[0].text for code in languages[:MAX_EXAMPLES]}


def translation_groups(corpus: DemoCorpus) -> list[list[Document]]:
    """Documents that translate each other: each English sentence with every translation of it."""
    groups: dict[str, list[Document]] = {}
    for document in corpus.documents:
        english = document.text if document.language == ENGLISH else document.english
        if english is not None:
            groups.setdefault(english, []).append(document)
    return [group for group in groups.values() if len({d.language for d in group}) > 1]
