"""Rebuild the demo's shipped corpus, ``optical_st/resources/demo_corpus/demo_corpus.jsonl``, from ../shared/data.

Run from the project root (the package never reads ../shared at run time; this script is how the
shipped file was made, and ``ATTRIBUTION.md`` beside it describes the same rules)::

    python scripts/build_demo_corpus.py [--shared ../shared/data]

Three parts, each selected by a fixed rule, all CC BY-SA 4.0:

1. NTREX-128 news: in file order, the first two lines of each document whose English side is 50-150
   characters long, until 200 lines, in English + Nepali, Sinhala, Hindi, Bengali, Tamil, Urdu (the
   sample shipped before, row for row; the demo's examples and its calibration start from them).
2. FLORES-200 (the ``dev`` part of ../shared only, never devtest): the first sentence of each of the
   first :data:`FLORES_ARTICLES` dev articles, in English and all 15 South Asian languages.
3. FLoRes v1 Wikipedia (Nepali-English, Sinhala-English): pairs whose English side names a South Asian
   place or topic (:data:`SOUTH_ASIA`), distinct English sentences, at most :data:`FLORESV1_PER_LANGUAGE`
   per language in file order (dev, devtest, test), each target sentence once - the topics visitors type first (Nepal, Kathmandu,
   Colombo, monsoon, cricket), which the news and FLORES parts barely cover.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "optical_st" / "resources" / "demo_corpus"
FLORES_LANGUAGES = [
    "hin_Deva",
    "ben_Beng",
    "urd_Arab",
    "npi_Deva",
    "sin_Sinh",
    "tam_Taml",
    "tel_Telu",
    "mar_Deva",
    "guj_Gujr",
    "pan_Guru",
    "kan_Knda",
    "mal_Mlym",
    "ory_Orya",
    "asm_Beng",
    "snd_Arab",
]
NTREX_LANGUAGES = ("npi_Deva", "sin_Sinh", "hin_Deva", "ben_Beng", "tam_Taml", "urd_Arab")
NTREX_SENTENCES = 200
FLORES_ARTICLES = 100  # 1,600 documents: with the rest, a cold start indexes in well under a minute
FLORESV1 = {"ne": "npi_Deva", "si": "sin_Sinh"}
FLORESV1_PER_LANGUAGE = 350
SOUTH_ASIA = re.compile(
    r"\b(Nepal\w*|Kathmandu|Pokhara|Lumbini|Himalaya\w*|Everest|Sri Lanka\w*|Ceylon|Colombo|Kandy|"
    r"Sinhal\w*|Tamil\w*|India\w*|Delhi|Mumbai|Bengal\w*|Bangladesh\w*|Dhaka|Pakistan\w*|Bhutan\w*|"
    r"Tibet\w*|Ganges|monsoon\w*|cricket\w*|Buddh\w*|Hindu\w*)\b",
    re.IGNORECASE,
)


def lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


def row(row_id: str, language: str, english: str, target: str, doc_id: str, source: str) -> dict:
    return {
        "id": row_id,
        "language": language,
        "english": english,
        "target": target,
        "doc_id": doc_id,
        "source": source,
    }


def ntrex_rows(shared: Path) -> list[dict]:
    folder = shared / "ntrex128"
    english, documents = lines(folder / "eng_Latn.txt"), lines(folder / "document_ids.txt")
    picked: list[int] = []
    taken: dict[str, int] = {}
    for number, (text, document) in enumerate(zip(english, documents, strict=True)):
        if len(picked) < NTREX_SENTENCES and 50 <= len(text) <= 150 and taken.get(document, 0) < 2:
            taken[document] = taken.get(document, 0) + 1
            picked.append(number)
    rows = []
    for code in NTREX_LANGUAGES:
        target = lines(folder / f"{code}.txt")
        for number in picked:
            row_id = f"ntrex128-{number + 1:04d}-{code}"
            rows.append(row(row_id, code, english[number], target[number], documents[number], "ntrex128"))
    return rows


def flores_rows(shared: Path) -> list[dict]:
    folder = shared / "flores200"
    with (folder / "metadata.tsv").open(encoding="utf-8") as handle:
        meta = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    english = lines(folder / "eng_Latn.txt")
    texts = {code: lines(folder / f"{code}.txt") for code in FLORES_LANGUAGES}
    first_of_article: dict[str, int] = {}
    for number, record in enumerate(meta):
        if record["flores_split"] == "dev" and len(first_of_article) < FLORES_ARTICLES:
            first_of_article.setdefault(record["URL"], number)
    rows = []
    for url, number in first_of_article.items():
        line = int(meta[number]["flores_line"])
        for code in FLORES_LANGUAGES:
            rows.append(
                row(
                    f"flores200-dev-{line:04d}-{code}",
                    code,
                    english[number],
                    texts[code][number],
                    url,
                    "flores200",
                )
            )
    return rows


def floresv1_rows(shared: Path) -> list[dict]:
    folder = shared / "floresv1_ne_si"
    rows = []
    for short, code in FLORESV1.items():
        chosen: set[str] = set()
        targets: set[str] = set()  # one reference per source sentence: the authors repeat sources
        for split in ("dev", "devtest", "test"):
            stem = folder / f"wikipedia.{split}.{short}-en"
            english, target = lines(Path(f"{stem}.en")), lines(Path(f"{stem}.{short}"))
            titles = lines(Path(f"{stem}.doc_id"))
            for number, (en, xx, title) in enumerate(zip(english, target, titles, strict=True), 1):
                new = en not in chosen and xx not in targets
                if len(chosen) < FLORESV1_PER_LANGUAGE and new and SOUTH_ASIA.search(en):
                    chosen.add(en)
                    targets.add(xx)
                    rows.append(
                        row(f"floresv1-{split}-{short}-{number:04d}", code, en, xx, title, "floresv1")
                    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    rows = ntrex_rows(args.shared) + flores_rows(args.shared) + floresv1_rows(args.shared)
    with (OUT / "demo_corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in rows:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {OUT / 'demo_corpus.jsonl'}")


if __name__ == "__main__":
    main()
