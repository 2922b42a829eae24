"""What the page shows: pure functions of the server state and a session's choices (tested without a server)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optical_st.app._alignment import align_sentences
from optical_st.app._corpus import DemoCorpus, example_queries
from optical_st.app._html import Ranking, alignment_html, escape, rankings_html, romanized_note_html
from optical_st.app._state import DemoState, Progress, model_name_shown, public_model_label, validate_query
from optical_st.languages import language_label
from optical_st.search import embedding_dimension


@dataclass(frozen=True)
class Session:
    """A browser session's choices (kept in gr.State): models and active corpus; ``""`` = the server's."""

    model: str = ""
    compare: str = ""  # "" = the served distilled model, if any
    corpus: str = "shipped"


def session_models(state: DemoState, session: Session) -> list[str | None]:
    """The models whose rankings a session sees: its base model, then the one it compares with."""
    compare = session.compare.strip() or state.distilled_model
    return [session.model.strip() or None] + ([compare] if compare else [])


def search_rankings(
    state: DemoState,
    session: Session,
    query: str,
    languages: Sequence[str],
    k: int,
    *,
    romanized: bool = False,
) -> list[Ranking]:
    """Each of the session's models ranks the corpus for the query; later columns note rank changes.
    ``romanized``: the query is romanized South Asian text, which no calibration was measured on."""
    rankings: list[Ranking] = []
    names = session_models(state, session)
    for number, name in enumerate(names):
        hits = state.search(query, languages, k, corpus_key=session.corpus, model_name=name)
        role = "Base model" if number == 0 else "Distilled model"
        baseline = {hit.document.id: hit.rank for hit in rankings[0].hits} if rankings else None
        title = f"{role}: {model_name_shown(state.model(name))}" if len(names) > 1 else ""
        calibration = state.calibration(name).for_query(query, romanized=romanized)
        rankings.append(Ranking(title, hits, calibration, baseline))
    return rankings


def search_view(state: DemoState, session: Session, query: str | None, languages, k) -> str:
    """The results HTML for a query: one ranking per model of the session, after a note when the query is
    romanized South Asian text (its hits are then not marked: the calibration is native-script)."""
    query = validate_query(query)
    guess = state.romanized_guess(query, session.corpus)
    rankings = search_rankings(state, session, query, languages or [], k, romanized=guess is not None)
    note = romanized_note_html(guess.label, len(rankings) > 1) if guess else ""
    return note + rankings_html(query, rankings)


def alignment_view(
    state: DemoState, session: Session, sentence: str | None, translation: str | None, reg, keep_special
) -> str:
    """The heatmap; the distilled model is the student when it has the teacher's hidden size."""
    names = session_models(state, session)
    teacher = state.model(names[0])
    student, note = teacher, "Student and teacher: the base model (OPTICAL's frozen teacher is a copy of it)."
    if len(names) > 1:
        distilled = state.model(names[1])
        if embedding_dimension(distilled) == embedding_dimension(teacher):
            student = distilled
            note = f"Student: {model_name_shown(distilled)}; teacher: {model_name_shown(teacher)}."
        else:
            note += f" ({model_name_shown(distilled)} has another hidden size, so it cannot be aligned.)"
    alignment = align_sentences(
        student, sentence, translation, teacher=teacher, reg=reg, keep_special_tokens=keep_special
    )
    return alignment_html(alignment, note)


def markdown_text(text: str) -> str:
    """Outside text for a gr.Markdown: HTML-escaped, and no backtick starts a code span (in which the
    escapes would show literally, as ``&lt;encoding&gt;`` did: issue 25, item 6)."""
    return escape(text).replace("`", "&#96;")


def serving_markdown(state: DemoState, session: Session, problem: str = "") -> str:
    """The status line above the query box: which model serves, by name only (short on a phone).

    ``problem`` (a failed model load) is reported before it; the line still names what serves.
    """
    names = session_models(state, session)
    lines = [f"**Serving model:** {markdown_text(model_name_shown(state.model(names[0])))}"]
    if len(names) > 1:
        lines[0] += (
            f" · **Distilled model beside it:** {markdown_text(model_name_shown(state.model(names[1])))}"
        )
    if problem:
        lines.insert(0, f"**Models not changed:** {markdown_text(problem)}")
    return "  \n".join(lines)


def model_details_markdown(state: DemoState, session: Session) -> str:
    """Where each served model came from and its caveats, for the Model and corpus panel."""
    names = session_models(state, session)
    roles = ["Base model", "Distilled model"]
    return "  \n".join(
        f"**{role}:** {markdown_text(public_model_label(state.model(name)))}"
        for role, name in zip(roles, names, strict=False)
    )


def corpus_markdown(corpus: DemoCorpus, problem: str = "") -> str:
    """The active corpus, always (also after a failed upload, which is reported before it)."""
    active = f"**Corpus:** {markdown_text(corpus.summary())}, all indexed"
    return f"**Upload not used:** {markdown_text(problem)}  \n{active} (still active)" if problem else active


def example_samples(corpus: DemoCorpus) -> list[list[str]]:
    """Rows of the examples table: ``[language, text]`` from the active corpus."""
    return [[language_label(code), text] for code, text in example_queries(corpus).items()]


def load_models(state: DemoState, session: Session, progress: Progress | None = None) -> Session:
    """Load the session's models and index the shipped and active corpora for them (DemoInputError if not).

    Only the served models and Hub ids may be chosen (:meth:`DemoState.check_visitor_model`).
    """
    for name in (session.model, session.compare):
        state.check_visitor_model(name)
    corpora = {corpus.key: corpus for corpus in (state.corpus(None), state.corpus(session.corpus))}
    for name in session_models(state, session):
        state.model(name)
        for corpus in corpora.values():
            state.prepare(name, corpus, progress)
        state.calibration(name)
    return session


def add_corpus(state: DemoState, session: Session, path: str, progress: Progress | None = None) -> str:
    """Validate an uploaded corpus and index all its languages for the session's models; its key."""
    key = state.add_corpus(path, name=Path(path).name)
    for name in session_models(state, session):
        state.prepare(name, state.corpus(key), progress)
    return key
