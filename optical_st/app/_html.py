"""HTML of results and heatmaps; every string from outside goes through ``html.escape``."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from optical_st.app._alignment import TokenAlignment
from optical_st.app._calibration import FLOOR_QUANTILE, ScoreCalibration
from optical_st.app._state import Hit
from optical_st.languages import ENGLISH, language_label

escape = html.escape


@dataclass(frozen=True)
class Ranking:
    """One model's answer to a query, as shown in one column of the results."""

    title: str
    hits: list[Hit]
    calibration: ScoreCalibration | None = None
    baseline: dict[str, int] | None = None  # doc id -> rank under the base model (distilled column)


def message_html(text: str) -> str:
    return f'<div class="ost-msg" id="ost-message">{escape(text)}</div>'


def romanized_note_html(label: str, distilled_served: bool) -> str:
    """The line above the results of a Latin-script query that reads as South Asian text ("romanized Nepali?")."""
    then = (
        "the distilled model ranks beside the base model"
        if distilled_served
        else "a student distilled for romanized text (optical-st train --romanize) can be served beside it "
        "with optical-st demo --distilled FOLDER"
    )
    return (
        f'<div class="ost-msg" id="ost-script-note">Latin script, but not English: {escape(label)}? '
        f"Searched as typed; no hit is marked as a likely translation: the Latin-script marker is calibrated on "
        f"English queries. {escape(then)}.</div>"
    )


def _rank_change(doc_id: str, rank: int, baseline: dict[str, int] | None) -> str:
    """``▲2`` / ``▼1`` / ``=`` / ``new``: where the base model ranked this document (distilled column)."""
    if baseline is None:
        return ""
    before = baseline.get(doc_id)
    if before is None:
        text, why = "new", "not in the base model's top-k"
    elif before == rank:
        text, why = "=", "same rank as the base model"
    else:
        text = f"▲{before - rank}" if before > rank else f"▼{rank - before}"
        why = f"rank {before} under the base model"
    return f' <span class="ost-delta" title="{why}">{text}</span>'


def _hit_row(hit: Hit, calibration: ScoreCalibration | None, baseline: dict[str, int] | None) -> str:
    doc = hit.document
    english = "" if doc.english is None or doc.language == ENGLISH else doc.english
    marker = (
        '<br><span class="ost-likely">✓ likely translation</span>'
        if calibration is not None and calibration.likely(hit.score)
        else ""
    )
    # The translation sits under the document, not in a column of its own: a column stayed empty on
    # every English row (issue 25, item 6).
    translation = (
        f'<div dir="auto" class="ost-en"><span class="ost-en-label">English: </span>{escape(english)}</div>'
        if english
        else ""
    )
    return (
        f'<tr class="ost-hit" data-doc-id="{escape(doc.id)}">'
        f'<td class="ost-rank">{hit.rank}{_rank_change(doc.id, hit.rank, baseline)}</td>'
        f'<td class="ost-score">{hit.score:.3f}{marker}</td>'
        f'<td class="ost-lang">{escape(language_label(doc.language))}</td>'
        f'<td class="ost-document"><div dir="auto" class="ost-text">{escape(doc.text)}</div>{translation}</td></tr>'
    )


def no_match_html(best_score: float, calibration: ScoreCalibration, line_id: str = "ost-no-match") -> str:
    """The line above a ranking whose best hit is no closer than an unrelated text often is."""
    if calibration.floor is None or not math.isfinite(calibration.floor):
        why = "The query has fewer than two letters, so nothing in the corpus can match it closely."
    else:
        why = (
            f"The best hit scores {best_score:.3f}, below {calibration.floor:.3f}: "
            f"{1 - FLOOR_QUANTILE:.0%} of the closest non-translations measured for this model score more."
        )
    return (
        f'<p class="ost-nomatch" id="{line_id}"><b>No close match.</b> {why} These are the nearest '
        "documents anyway: read them as guesses.</p>"
    )


def results_html(
    hits: Sequence[Hit],
    query: str = "",
    calibration: ScoreCalibration | None = None,
    *,
    baseline: dict[str, int] | None = None,
    table_id: str = "ost-results",
) -> str:
    """Results table: rank, score (+ marker), language, document text and its English translation (escaped).

    A "no close match" line comes first when the best hit is below the calibration's floor.
    """
    if not hits:
        return message_html("No documents found.")
    caption = (
        f'<caption style="text-align:left">Results for <q dir="auto">{escape(query)}</q></caption>'
        if query
        else ""
    )
    rows = "".join(_hit_row(hit, calibration, baseline) for hit in hits)
    note = f'<p class="ost-calibration">{escape(calibration.explain())}</p>' if calibration else ""
    far = calibration is not None and calibration.no_close_match(hits[0].score)
    return (
        (no_match_html(hits[0].score, calibration, table_id.replace("results", "no-match")) if far else "")
        + f'<table class="ost-table{" ost-far" if far else ""}" id="{table_id}">{caption}'
        "<thead><tr><th>#</th><th>score</th><th>language</th><th>document (and its English translation)</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{note}"
    )


def rankings_html(query: str, rankings: Sequence[Ranking]) -> str:
    """One column per model (base first), side by side where the screen is wide enough."""
    columns = []
    for number, ranking in enumerate(rankings):
        table = results_html(
            ranking.hits,
            query if number == 0 else "",
            ranking.calibration,
            baseline=ranking.baseline,
            table_id="ost-results" if number == 0 else f"ost-results-{number + 1}",
        )
        heading = f"<h3>{escape(ranking.title)}</h3>" if len(rankings) > 1 else ""
        columns.append(f'<section class="ost-ranking">{heading}{table}</section>')
    return f'<div class="ost-rankings">{"".join(columns)}</div>'


def _heat_cell(share: float, plan_mass: float, cost: float, token: str) -> str:
    percent = round(100 * share)
    return (
        f'<td class="{"ost-dark" if share > 0.55 else ""}" style="background: rgba(31, 119, 180, {share:.3f})" '
        f'title="{percent}% of {escape(token)}; plan mass {plan_mass:.4f}, cosine cost {cost:.3f}">'
        f"{percent if percent >= 5 else ''}</td>"
    )


def alignment_html(alignment: TokenAlignment, note: str = "") -> str:
    """Heatmap table: one row per student token, one column per teacher token, with a colour scale.

    A cell's shade and number are the share (%) of its student token's mass that the plan moves to the
    teacher token, so the scale is absolute (0-100 %) and readable without hovering.
    """
    shares, plan, cost = alignment.row_shares, alignment.plan, alignment.cost
    student = alignment.student_labels or alignment.student_tokens
    teacher = alignment.teacher_labels or alignment.teacher_tokens
    header = "".join(f'<th class="ost-col">{escape(token)}</th>' for token in teacher)
    body = "".join(
        f"<tr><th>{escape(token)}</th>"
        + "".join(_heat_cell(shares[i, j], plan[i, j], cost[i, j], token) for j in range(plan.shape[1]))
        + "</tr>"
        for i, token in enumerate(student)
    )
    note_html = f"<p>{escape(note)}</p>" if note else ""
    return (
        f"{note_html}<p>Transport cost &lang;plan, cost&rang; = <b id='ost-cost'>{alignment.transport_cost:.4f}</b> "
        f"({len(student)} student tokens x {len(teacher)} teacher tokens).</p>"
        '<div class="ost-scale" id="ost-heat-scale"><span>0%</span><span class="ost-scale-bar"></span>'
        "<span>100%</span><span>of a student token's mass moved to a teacher token (the number in a "
        "cell, in %). · marks a piece that continues the previous word.</span></div>"
        f'<table class="ost-heat" id="ost-heatmap"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
