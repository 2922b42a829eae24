"""The Gradio app: small builders, each wiring one part of the page, and the server."""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optical_st.languages import language_label

if TYPE_CHECKING:
    import gradio as gr


from optical_st.app._corpus import (
    EXAMPLE_IDS,
    MAX_UPLOAD_BYTES,
    RESOURCES,
    DemoCorpus,
    DemoInputError,
)
from optical_st.app._html import message_html
from optical_st.app._state import MAX_QUERY_CHARS, MAX_TOP_K, DemoState
from optical_st.app._views import (
    Session,
    add_corpus,
    alignment_view,
    corpus_markdown,
    example_samples,
    load_models,
    model_details_markdown,
    search_view,
    serving_markdown,
)

logger = logging.getLogger("optical_st.demo")

DEMO_CSS = (RESOURCES / "demo.css").read_text(encoding="utf-8")
SEARCH_CONCURRENCY = 4  # searches are ~0.1 s; a few at once keep the queue short on 2 cores
INTRO = (
    "# optical-st demo\nCross-lingual retrieval for low-resource South Asian languages, and the "
    "optimal-transport token alignment that OPTICAL distillation trains "
    "([paper](https://arxiv.org/abs/2301.12566))."
)
SEARCH_EVENTS = {"concurrency_id": "search", "concurrency_limit": SEARCH_CONCURRENCY}

# Uploads and model loads run in their own group, so indexing never takes the workers searches need
# (issue 15, item 1). Several may run at once: they take turns on the encoder chunk by chunk, the
# smallest job first (EncodingTurns), so a small upload does not queue behind a stranger's large one
# (issue 25, item 4); a first-come queue of one made a 4-document upload wait 39.5 s.
INDEXING_CONCURRENCY = 8
INDEXING_EVENTS = {"concurrency_id": "index", "concurrency_limit": INDEXING_CONCURRENCY}


def _shown_as_message(function: Callable[..., str]) -> Callable[..., str]:
    """Never let an exception reach the UI as a crash: bad input -> its message, bugs -> logged."""

    @functools.wraps(function)
    def wrapper(*args: Any) -> str:
        try:
            return function(*args)
        except DemoInputError as error:
            return message_html(str(error))
        except Exception:
            logger.exception("demo handler failed")
            return message_html("Something went wrong; see the server log.")

    return wrapper


@dataclass
class _Page:
    """The components the builders share."""

    session: gr.State
    serving: gr.Markdown
    details: gr.Markdown
    corpus: gr.Markdown
    model_box: gr.Textbox
    compare_box: gr.Textbox
    load_button: gr.Button
    upload: gr.File
    reset_corpus: gr.Button
    languages: gr.CheckboxGroup | None = None
    examples: gr.Dataset | None = None


def _settings_panel(state: DemoState, session: Session, shipped: DemoCorpus) -> _Page:
    """Status lines (always visible) and the closed model/corpus panel: the query box stays on the first screen."""
    import gradio as gr

    loaded = state.is_loaded()
    serving_md = gr.Markdown(
        serving_markdown(state, session) if loaded else "not loaded yet", elem_id="ost-serving"
    )
    corpus_md = gr.Markdown(corpus_markdown(shipped), elem_id="ost-corpus")
    with gr.Accordion("Model and corpus: load another model, upload your own bitext", open=False):
        # Where the model came from and its caveats: useful, but jargon above the query box on a phone.
        details_md = gr.Markdown(
            model_details_markdown(state, session) if loaded else "", elem_id="ost-model-details"
        )
        model_box = gr.Textbox(
            label="Model (a Hugging Face Hub id; empty = the one served here)",
            placeholder="intfloat/multilingual-e5-small",
            max_lines=1,
            elem_id="ost-model",
        )
        compare_box = gr.Textbox(
            label="Distilled model to rank beside it (a Hub id; empty = the one served here, if any)",
            placeholder="me/e5-small-optical-ne-si",
            max_lines=1,
            elem_id="ost-compare",
        )
        load_button = gr.Button("Load models", elem_id="ost-load-model", size="sm")
        upload = gr.File(
            label=f"Corpus: upload a bitext .tsv/.jsonl (english, target, language; up to {MAX_UPLOAD_BYTES // 2**20} MB)",
            file_types=[".tsv", ".jsonl"],
            type="filepath",
            elem_id="ost-upload",
        )
        reset_corpus = gr.Button("Use the shipped corpus", size="sm", elem_id="ost-shipped")
    return _Page(
        gr.State(session),
        serving_md,
        details_md,
        corpus_md,
        model_box,
        compare_box,
        load_button,
        upload,
        reset_corpus,
    )


def _search_tab(state: DemoState, page: _Page, shipped: DemoCorpus) -> None:
    import gradio as gr

    with gr.Row(equal_height=True):
        query_box = gr.Textbox(
            label=f"Query in any language (up to {MAX_QUERY_CHARS} characters)",
            info="Enter searches; Shift+Enter starts a new line.",
            lines=1,  # gradio: with one line, Enter submits and Shift+Enter inserts a newline
            max_lines=6,
            elem_id="ost-query",
            scale=5,
            min_width=200,
        )
        search_button = gr.Button("Search", variant="primary", elem_id="ost-search", scale=1, min_width=80)
    with gr.Row():
        page.languages = gr.CheckboxGroup(
            choices=[(language_label(code), code) for code in shipped.languages],
            # every language: an English-only default hid the English answer to a Nepali query
            # (issue 25, item 2); scores of one model are comparable across languages
            value=list(shipped.languages),
            label="Document language(s)",
            elem_id="ost-languages",
            scale=3,
            min_width=320,  # on a phone top-k wraps below instead of squeezing the checkboxes
        )
        k_slider = gr.Slider(
            1, MAX_TOP_K, value=5, step=1, label="top-k", scale=1, min_width=160, elem_id="ost-topk"
        )
    results = gr.HTML(
        message_html("Type a query and press Enter or Search."),
        elem_id="ost-results-box",
        css_template=DEMO_CSS,
    )

    page.examples = gr.Dataset(
        label="Examples from the active corpus: click one to search it",
        components=["textbox", "textbox"],
        headers=["language", "example query"],
        samples=example_samples(shipped),
        layout="table",
        elem_id="ost-examples",
    )

    @_shown_as_message
    def search(query, languages, k, session):
        return search_view(state, session, query, languages, k)

    def run_example(sample, languages, k, session):
        text = sample[1] if sample else ""
        return text, search(text, languages, k, session)

    inputs = [query_box, page.languages, k_slider, page.session]
    gr.on(
        [search_button.click, query_box.submit],
        search,
        inputs=inputs,
        outputs=results,
        api_name="search",
        **SEARCH_EVENTS,
    )
    page.examples.click(
        run_example,
        inputs=[page.examples, *inputs[1:]],
        outputs=[query_box, results],
        api_name="example",
        **SEARCH_EVENTS,
    )


ROMANIZED_EXAMPLE = ("mero desh nepal ho", "मेरो देश नेपाल हो।")
"""A romanized sentence as people type it, and its native-script original (the Alignment tab's example)."""


def _alignment_tab(state: DemoState, page: _Page, shipped: DemoCorpus) -> None:
    import gradio as gr

    from optical_st.transport import DEFAULT_REG, DEFAULT_REG_SCALE

    gr.Markdown(
        "The student encodes the sentence, the frozen teacher encodes its English translation (or, for a "
        "romanized sentence, its native-script original); entropic OT moves the sentence's token mass onto "
        "the other side's tokens at least cosine cost. OPTICAL's loss is this transport cost. With a "
        "distilled model served, it is the student and the base model the teacher."
    )
    with gr.Row():
        sentence_box = gr.Textbox(label="Sentence (student side)", lines=2, elem_id="ost-sentence")
        translation_box = gr.Textbox(
            label="English translation or native-script original (teacher side)",
            lines=2,
            elem_id="ost-translation",
        )
    with gr.Row():
        reg_slider = gr.Slider(
            0.01,
            2.0,
            value=DEFAULT_REG,
            step=0.01,
            label=f"entropic regularisation reg (x each pair's cost {DEFAULT_REG_SCALE}; training default {DEFAULT_REG})",
        )
        special_box = gr.Checkbox(value=False, label="include special tokens (<s>, </s>)")
        align_button = gr.Button("Align", variant="primary", elem_id="ost-align")
    example = shipped.by_id.get(f"npi_Deva:{EXAMPLE_IDS['npi_Deva']}")
    if example is not None:
        gr.Examples(
            [[example.text, example.english], [ROMANIZED_EXAMPLE[0], ROMANIZED_EXAMPLE[1]]],
            inputs=[sentence_box, translation_box],
            label="Examples: Nepali and its English; romanized Nepali and its native script",
        )
    heatmap = gr.HTML(
        message_html("Paste a sentence and its translation, then press Align."),
        elem_id="ost-heatmap-box",
        css_template=DEMO_CSS,
        max_height=640,  # gradio scrolls the component both ways: every token column stays reachable
    )

    @_shown_as_message
    def run_align(sentence, translation, reg, keep_special, session):
        return alignment_view(state, session, sentence, translation, reg, keep_special)

    align_button.click(
        run_align,
        inputs=[sentence_box, translation_box, reg_slider, special_box, page.session],
        outputs=heatmap,
        api_name="align",
        **SEARCH_EVENTS,
    )


def _wire_models(state: DemoState, page: _Page) -> None:
    import gradio as gr

    tracker = gr.Progress()  # gradio injects a fresh one per event; DemoState.prepare reports by language

    def load(model_name, compare_name, session, progress=tracker):
        wanted = Session(model_name or "", compare_name or "", session.corpus)
        try:
            load_models(state, wanted, progress)
        except Exception as error:
            if not isinstance(error, DemoInputError):
                logger.exception("loading models %r, %r failed", model_name, compare_name)
                error = "loading failed; see the server log."
            # the line keeps naming what serves (issue 25, item 5)
            return gr.update(), serving_markdown(state, session, str(error)), gr.update()
        return wanted, serving_markdown(state, wanted), model_details_markdown(state, wanted)

    page.load_button.click(
        load,
        inputs=[page.model_box, page.compare_box, page.session],
        outputs=[page.session, page.serving, page.details],
        api_name="load_models",
        show_progress_on=page.serving,  # one progress line, not a spinner over every output
        **INDEXING_EVENTS,
    )


def _wire_corpus(state: DemoState, page: _Page) -> None:
    import gradio as gr

    def corpus_outputs(session: Session, problem: str = "") -> tuple:
        corpus = state.corpus(session.corpus)
        return (
            session,
            corpus_markdown(corpus, problem),
            gr.update(
                choices=[(language_label(code), code) for code in corpus.languages],
                value=list(corpus.languages),
            ),
            gr.Dataset(samples=example_samples(corpus)),
        )

    tracker = gr.Progress()

    def upload(path, session, progress=tracker):
        if not path:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        try:
            key = add_corpus(state, session, path, progress)
        except Exception as error:
            if not isinstance(error, DemoInputError):
                logger.exception("loading corpus %r failed", path)
                error = "the file could not be read."
            # The active corpus stays as it was, and is named; the box never shows the unused file.
            problem = corpus_markdown(state.corpus(session.corpus), str(error))
            return gr.update(), problem, gr.update(), gr.update(), None
        return (*corpus_outputs(Session(session.model, session.compare, key)), gr.update())

    def use_shipped(session):
        return (*corpus_outputs(Session(session.model, session.compare, "shipped")), None)

    outputs = [page.session, page.corpus, page.languages, page.examples, page.upload]
    page.upload.upload(
        upload,
        inputs=[page.upload, page.session],
        outputs=outputs,
        api_name="upload_corpus",
        show_progress_on=page.corpus,  # the progress shows once, on the corpus line (issue 25, item 4)
        **INDEXING_EVENTS,
    )
    page.reset_corpus.click(
        use_shipped, inputs=page.session, outputs=outputs, api_name="use_shipped_corpus", **SEARCH_EVENTS
    )


def build_demo(state: DemoState | None = None, *, preload: bool = True) -> gr.Blocks:
    """The Gradio Blocks app. ``preload`` loads the served models and indexes every shipped language first."""
    import gradio as gr

    state = state or DemoState()
    shipped = state.corpus(None)
    if preload:
        state.preload()
    with gr.Blocks(title="optical-st: cross-lingual search for South Asian languages") as demo:
        gr.Markdown(INTRO)
        page = _settings_panel(state, Session(), shipped)
        with gr.Tab("Search"):
            _search_tab(state, page, shipped)
        with gr.Tab("Alignment"):
            _alignment_tab(state, page, shipped)
        _wire_models(state, page)
        _wire_corpus(state, page)
    return demo


def serve(
    demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True
) -> gr.Blocks:
    """Queue and serve a built demo (``block=False`` returns once the server is up, for tests)."""
    demo.queue(default_concurrency_limit=SEARCH_CONCURRENCY)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=MAX_UPLOAD_BYTES,
        prevent_thread_lock=not block,
        show_error=False,
    )
    return demo


def launch(
    model: str | None = None,
    *,
    distilled: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
) -> gr.Blocks:
    """Build the demo (every shipped language indexed for every served model) and serve it."""
    demo = build_demo(DemoState(model, distilled_model=distilled))
    return serve(demo, host=host, port=port, share=share, block=block)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="optical-st demo (Gradio)")
    parser.add_argument(
        "--model", default=None, help="Hub id or local folder (default: multilingual-e5-small)"
    )
    parser.add_argument(
        "--distilled",
        default=None,
        help="a distilled model (Hub id or local folder) whose ranking is shown beside the base model's",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    launch(args.model, distilled=args.distilled, host=args.host, port=args.port)
    return 0
