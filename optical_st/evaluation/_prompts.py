"""Prompts: the task-dependent defaults, resolved once per benchmark and recorded with the results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optical_st.search import resolve_prompt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SYMMETRIC_LEVELS: tuple[str, ...] = ("sentence", "document")
"""Levels that are translation retrieval (a text finds its translation, or the article it comes from).
Both sides get the query prompt there, e5's guidance for symmetric tasks such as bitext mining; the
query/passage pair costs multilingual-e5-small 18-29 points of document-level recall@1 on Nepali
FLORES. Other levels (XQuAD-R's ``passage``: a question finds the sentence that answers it) are
query -> passage tasks and use the model's query and document prompts."""


def task_prompts(
    level: str,
    query_encoder: SentenceTransformer,
    document_encoder: SentenceTransformer,
    *,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    query_prompt_name: str | None = None,
    document_prompt_name: str | None = None,
) -> tuple[str, str]:
    """The query and document prompt strings for a benchmark of ``level``, as the encoders will prepend them.

    Explicit prompts (or prompt names) win. Otherwise queries get the query encoder's ``"query"``
    prompt, and documents get the document encoder's ``"query"`` prompt too on translation retrieval
    (:data:`SYMMETRIC_LEVELS`: with an explicit query prompt, that prompt) or its document prompt
    (``"document"``/``"passage"``/``"corpus"``) on query -> passage tasks.

    Example::

        >>> task_prompts("sentence", e5, e5)  # doctest: +SKIP
        ('query: ', 'query: ')
        >>> task_prompts("passage", e5, e5)  # doctest: +SKIP
        ('query: ', 'passage: ')
    """
    query = resolve_prompt(query_encoder, "query", query_prompt, query_prompt_name)
    if document_prompt is not None or document_prompt_name is not None or level not in SYMMETRIC_LEVELS:
        document = resolve_prompt(document_encoder, "document", document_prompt, document_prompt_name)
    else:
        document = resolve_prompt(document_encoder, "query", query_prompt, query_prompt_name)
    return query, document
