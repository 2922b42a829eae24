"""Every network call of optical-st: model and dataset cards, push and pull, the offline cache.

Pushing always writes the exact repository content to a local folder first (model files or the
benchmark's parquet files, ``README.md`` with the card, ``.eval_results/`` or ``eval.yaml``), then
uploads that folder in one commit. A failed push (missing or rejected token, unreachable Hub,
existing repository) raises a :class:`HubError` naming the local folder, which stays complete.

Pulling goes through ``huggingface_hub.snapshot_download``, so ``HF_HUB_OFFLINE=1``, ``HF_HOME`` /
``HF_HUB_CACHE`` and ``HF_ENDPOINT`` work as everywhere in the Hugging Face ecosystem; a local
directory is accepted wherever a Hub id is.

Cards are rendered from the Jinja templates in ``hub_cards/`` (``model_card.md``,
``dataset_card.md``), the way ``ModelCard.from_template`` does. The model card builds on
sentence-transformers' own :class:`~sentence_transformers.SentenceTransformerModelCardData`
(architecture, usage snippet, hyperparameters, loss citations, framework versions) and adds the
OPTICAL parts: teacher, loss settings, training bitext with licences and citations, the CLIR table
per language and direction, ``model-index`` metadata and the newer ``.eval_results/*.yaml`` format.

Tokens are read from the explicit argument, ``HF_TOKEN`` or the ``hf auth login`` cache, in that
order. A token never appears in a card, a log line or an exception message.

Example::

    from optical_st.hub import download_model, push_model

    url = push_model("runs/npi-sin-ot", "me/e5-small-optical-npi-sin",
                     evaluation_results="runs/npi-sin-ot/eval/results.json")
    local = download_model("me/e5-small-optical-npi-sin")   # cached; works with HF_HUB_OFFLINE=1
"""

from typing import Any

from optical_st._renamed import renamed
from optical_st.hub._cards import cards_dir, validate_card
from optical_st.hub._client import download_dataset, download_model, resolve_token, upload_folder
from optical_st.hub._dataset_card import BENCHMARK_PARTS, render_dataset_card
from optical_st.hub._errors import HubAuthenticationError, HubConnectionError, HubError, HubRepoExistsError
from optical_st.hub._ids import hub_id_form, looks_like_hub_id
from optical_st.hub._licences import license_id
from optical_st.hub._model_card import build_model_card_data, render_model_card
from optical_st.hub._provenance import OFFLINE_NOTE, PROVENANCE_FILE, model_provenance, write_provenance
from optical_st.hub._push import EVAL_RESULTS_FILE, push_benchmark, push_model
from optical_st.hub._results import (
    dataset_links,
    reproduction_snippet,
    results_markdown,
    results_table,
    results_to_eval_result_entries,
    results_to_eval_results,
)
from optical_st.hub._run_info import RUN_INFO_FILE, TrainingInfo, load_run_info, save_run_info

__all__ = [
    "BENCHMARK_PARTS",
    "EVAL_RESULTS_FILE",
    "OFFLINE_NOTE",
    "PROVENANCE_FILE",
    "RUN_INFO_FILE",
    "HubAuthenticationError",
    "HubConnectionError",
    "HubError",
    "HubRepoExistsError",
    "OpticalModelCardData",
    "TrainingInfo",
    "build_model_card_data",
    "cards_dir",
    "dataset_links",
    "download_dataset",
    "download_model",
    "hub_id_form",
    "license_id",
    "load_run_info",
    "looks_like_hub_id",
    "model_provenance",
    "push_benchmark",
    "push_model",
    "render_dataset_card",
    "render_model_card",
    "reproduction_snippet",
    "resolve_token",
    "results_markdown",
    "results_table",
    "results_to_eval_result_entries",
    "results_to_eval_results",
    "save_run_info",
    "upload_folder",
    "validate_card",
    "write_provenance",
]


# names of the single hub.py that moved with issue 17 (docs/DESIGN.md, "One of each")
RENAMED = {
    "load_results": "optical_st.results:load_rows",
    "RESULT_FIELDS": "optical_st.results:RESULT_FIELDS",
}


def __getattr__(name: str) -> Any:
    # The card data class subclasses sentence-transformers' and is built on first use (importing
    # sentence-transformers costs seconds; the CLI stays fast).
    if name == "OpticalModelCardData":
        from optical_st.hub._model_card import model_card_data_class

        return model_card_data_class()
    return renamed(__name__, name, RENAMED)
