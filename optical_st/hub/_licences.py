"""Licences: Hub licence ids for the spellings found in sources, and the licence of a derived dataset."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from optical_st.hub._cards import benchmark_meta

# Spellings found in SOURCE.md files and user metadata -> Hub licence ids.
_LICENSE_IDS = {
    "cc by-sa 4.0": "cc-by-sa-4.0",
    "cc-by-sa-4.0": "cc-by-sa-4.0",
    "cc by-sa 3.0": "cc-by-sa-3.0",
    "cc-by-sa-3.0": "cc-by-sa-3.0",
    "cc by 4.0": "cc-by-4.0",
    "cc-by-4.0": "cc-by-4.0",
    "cc by 2.0 fr": "cc-by-2.0",
    "cc by 2.0": "cc-by-2.0",
    "cc-by-2.0": "cc-by-2.0",
    "cc0": "cc0-1.0",
    "cc0 1.0": "cc0-1.0",
    "cc0-1.0": "cc0-1.0",
    "mit": "mit",
    "apache-2.0": "apache-2.0",
    "apache 2.0": "apache-2.0",
}


def license_id(licence: str | None) -> str | None:
    """Hub licence id for a spelling such as ``"CC BY-SA 4.0"``; ``None`` when unknown."""
    if not licence:
        return None
    key = re.sub(
        r"\s+", " ", str(licence).strip().lower().replace("licence", "").replace("license", "")
    ).strip()
    return _LICENSE_IDS.get(key)


def dataset_license(benchmarks: Sequence[Any], license: str | None) -> tuple[str, str, list[dict]]:
    """(Hub licence id, sentence for the card, per-source rows). Share-alike wins when present."""
    sources = []
    for benchmark in benchmarks:
        licences = [
            part.strip() for part in str(benchmark_meta(benchmark, "license", "licence") or "").split(";")
        ]
        names = benchmark_meta(benchmark, "source_name", "source", "sources") or benchmark.name
        names = [n.strip() for n in (names.split(";") if isinstance(names, str) else names) if str(n).strip()]
        for position, name in enumerate(names):
            # data (sources.source_metadata) joins one licence per source in order; one licence may cover all.
            licence = licences[position] if len(licences) == len(names) else "; ".join(licences)
            entry = {"name": str(name), "license": licence or None, "license_id": license_id(licence)}
            if entry not in sources:
                sources.append(entry)
    share_alike = sorted({s["license_id"] for s in sources if s["license_id"] and "-sa-" in s["license_id"]})
    if license and share_alike and (license_id(license) or license) != share_alike[-1]:
        # CC BY-SA binds derivatives: another licence given by hand would misstate the data's terms
        named = ", ".join(f"{s['name']}: {s['license']}" for s in sources if s["license_id"] in share_alike)
        raise ValueError(
            f"--license {license}: the benchmarks derive from share-alike data ({named}), so the dataset must "
            f"stay `{share_alike[-1]}`; drop --license"
        )
    if license:
        return license, f"Released under `{license}` as given by the publisher.", sources
    unknown = [s["name"] for s in sources if not s["license_id"]]
    if unknown:
        raise ValueError(
            f"No known licence for benchmark source(s) {', '.join(sorted(set(unknown)))}: set "
            "benchmark.metadata['license'] (e.g. 'CC BY-SA 4.0') or pass license=... (--license)."
        )
    ids = {s["license_id"] for s in sources}
    if share_alike:
        chosen = share_alike[-1]
        sentence = (
            f"Derived from share-alike data, so this dataset is released under `{chosen}` (CC BY-SA "
            "requires derivatives to keep the same licence); attribute every source below."
        )
        return chosen, sentence, sources
    if len(ids) == 1:
        chosen = ids.pop()
        return chosen, f"All sources are `{chosen}`; this dataset keeps that licence.", sources
    raise ValueError(
        f"The benchmarks mix licences {sorted(ids)} with no share-alike rule to combine them: push them "
        "separately or pass license=... after checking compatibility."
    )
