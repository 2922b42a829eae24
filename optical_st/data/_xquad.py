"""XQuAD-R (LAReQA): question -> answer-sentence retrieval across languages."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from optical_st.data._benchmark import CLIRBenchmark
from optical_st.data._errors import BenchmarkValidationError
from optical_st.data._lines import PathLike
from optical_st.languages import get_language
from optical_st.sources import source_metadata


def load_xquad_r(
    directory: PathLike, query_language: str = "hin_Deva", document_language: str = "eng_Latn"
) -> CLIRBenchmark:
    """XQuAD-R question -> answer-sentence retrieval (LAReQA), one query and one document language.

    Queries are the questions of ``{query_language}.json``; the corpus is every candidate sentence
    (``sentences`` of every paragraph) of ``{document_language}.json``. Questions share their ``id``
    across languages, so the relevant sentence is found in the document-language file: the sentence
    whose ``sentence_breaks`` span contains the question's ``answer_start`` there. Identical candidate
    sentences are merged into one document (relevant if any copy is).

    Args:
        directory: folder holding ``hi.json``, ``en.json`` (file names use ISO 639-1 codes).
        query_language: language of the questions (any spelling, e.g. ``hi``).
        document_language: language of the candidate sentences.

    Example::

        >>> benchmark = load_xquad_r("../shared/data/xquad_r", "hi", "en")  # doctest: +SKIP
        >>> len(benchmark.queries), len(benchmark.corpus)  # doctest: +SKIP
        (1190, 1180)
    """
    directory = Path(directory)
    query_language, document_language = (
        get_language(query_language).code,
        get_language(document_language).code,
    )
    query_file = _xquad_file(directory, query_language)
    document_file = _xquad_file(directory, document_language)
    questions: dict[str, str] = {}
    for _, _, paragraph in _xquad_paragraphs(query_file):
        for qa in paragraph["qas"]:
            questions[qa["id"]] = qa["question"].strip()
    corpus: dict[str, str] = {}
    id_by_text: dict[str, str] = {}
    relevant: dict[str, list[str]] = defaultdict(list)
    candidates = 0
    for article, number, paragraph in _xquad_paragraphs(document_file):
        sentences, breaks = paragraph["sentences"], paragraph["sentence_breaks"]
        if len(sentences) != len(breaks):
            raise BenchmarkValidationError(
                f"{document_file}: article {article} paragraph {number} has {len(sentences)} sentences but "
                f"{len(breaks)} sentence_breaks."
            )
        sentence_ids = []
        for index, sentence in enumerate(sentences):
            candidates += 1
            text = sentence.strip()
            sentence_ids.append(id_by_text.setdefault(text, f"{article}-{number}-{index}"))
            corpus.setdefault(sentence_ids[-1], text)
        for qa in paragraph["qas"]:
            if qa["id"] not in questions:
                continue
            for answer in qa["answers"]:
                start = answer["answer_start"]
                hits = [i for i, (begin, end) in enumerate(breaks) if begin <= start < end]
                if not hits:
                    raise BenchmarkValidationError(
                        f"{document_file}: question {qa['id']}: answer_start {start} lies in no sentence span."
                    )
                if sentence_ids[hits[0]] not in relevant[qa["id"]]:
                    relevant[qa["id"]].append(sentence_ids[hits[0]])
    unmatched = set(questions) - set(relevant)
    if unmatched:
        raise BenchmarkValidationError(
            f"{len(unmatched)} questions of {query_file} are missing from {document_file} (e.g. {sorted(unmatched)[0]})."
        )
    metadata = {
        **source_metadata(["xquad_r"]),
        "level": "passage",
        "direction": f"{query_language}->{document_language}",
        "n_candidate_sentences": candidates,
        "merged_duplicate_documents": candidates - len(corpus),
        "note": "relevant = the candidate sentence containing answer_start of the same question id in the "
        "document-language file (LAReQA); identical candidate sentences merged.",
    }
    return CLIRBenchmark.from_texts(
        f"xquad_r-passage-{query_language}-{document_language}",
        questions,
        corpus,
        relevant,
        query_language,
        document_language,
        metadata,
    )


def _xquad_file(directory: Path, language: str) -> Path:
    lang = get_language(language)
    for stem in (lang.iso639_1, lang.iso639_3, lang.code):
        path = directory / f"{stem}.json"
        if path.is_file():
            return path
    present = sorted(p.name for p in directory.glob("*.json"))
    raise FileNotFoundError(
        f"{directory}: no XQuAD-R file for {lang.code} ({lang.iso639_1}.json); found {present}."
    )


def _xquad_paragraphs(path: Path):
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchmarkValidationError(f"{path}: not a UTF-8 SQuAD-style JSON file ({error}).") from None
    for article_index, article in enumerate(data["data"]):
        for paragraph_index, paragraph in enumerate(article["paragraphs"]):
            yield article_index, paragraph_index, paragraph
