"""The report as a Hub dataset: its card (metadata as data) and the push."""

from __future__ import annotations

import os
from pathlib import Path

from optical_st._atomic import write_text
from optical_st.languages import get_language


def render_report_card(
    report_dir: str | os.PathLike[str],
    *,
    pretty_name: str = "optical-st scaling study",
    license: str = "cc-by-sa-4.0",
) -> str:
    """The Hub dataset card (``README.md``) of a report folder written by :func:`write_report`.

    Metadata is data (``huggingface_hub.DatasetCardData``): languages of the results, licence, the
    ``results``/``trends``/``models`` CSV files as dataset configs; the body is ``report.md`` plus the
    OPTICAL citation (:class:`~optical_st.losses.OTDistillLoss`'s). The default licence follows the evaluation data (FLORES, CC BY-SA 4.0).
    """
    import pandas as pd
    from huggingface_hub import DatasetCard, DatasetCardData

    from optical_st.losses import OTDistillLoss

    report_dir = Path(report_dir)
    results = pd.read_csv(report_dir / "results.csv")
    codes = {get_language(code).iso639_1 or get_language(code).code for code in results["language"]}
    languages = ["en", *sorted(codes)]
    data = DatasetCardData(
        language=languages,
        license=license,
        pretty_name=pretty_name,
        task_categories=["text-retrieval"],
        tags=["optical-st", "scaling", "cross-lingual-retrieval", "south-asian-languages"],
        configs=[
            {
                "config_name": name,
                "data_files": f"{name}.csv",
                **({"default": True} if name == "results" else {}),
            }
            for name in ("results", "trends", "models")
        ],
    )
    body = (report_dir / "report.md").read_text(encoding="utf-8")
    text = f"---\n{data.to_yaml()}\n---\n\n{body}\n\n## Citation\n\n```bibtex\n{OTDistillLoss.citation.strip()}\n```\n"
    return str(DatasetCard(text))


def push_report(
    report_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    endpoint: str | None = None,
    pretty_name: str = "optical-st scaling study",
    license: str = "cc-by-sa-4.0",
) -> str:
    """Upload a report folder (:func:`write_report`) to the Hub as a dataset with a card; return the commit URL.

    The card is written into ``report_dir/README.md`` first and validated, so a failed push (no token,
    no network) leaves a complete folder behind; the network call itself is :mod:`optical_st.hub`'s.
    """
    from optical_st import hub

    report_dir = Path(report_dir)
    if not (report_dir / "results.csv").is_file():
        raise FileNotFoundError(f"{report_dir} holds no results.csv; run write_report first")
    text = render_report_card(report_dir, pretty_name=pretty_name, license=license)
    hub.validate_card(text, "dataset")
    write_text(report_dir / "README.md", text)
    return hub.upload_folder(
        report_dir,
        repo_id,
        "dataset",
        token=token,
        private=private,
        exist_ok=True,
        endpoint=endpoint,
        commit_message="optical-st scaling study results",
        card_text=text,
    )
