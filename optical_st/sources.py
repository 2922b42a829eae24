"""The registry of the datasets in ../shared/data: name, licence, URL and citation of each.

A leaf module like :mod:`optical_st.languages`: benchmarks built by :mod:`optical_st.data` carry the
entry of their source (:func:`source_metadata`), and model cards (:mod:`optical_st.hub`) attribute
training bitext from it, without either importing the other.
"""

from __future__ import annotations

from collections.abc import Iterable

# Licence and citation of every dataset in ../shared/data, copied from its SOURCE.md. Benchmarks
# carry the entry of their source so that cards and result tables can attribute the data.
SOURCES: dict[str, dict[str, str]] = {
    "flores200": {
        "name": "FLORES-200 (shared dev/devtest part, SIB-200 ids)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/facebookresearch/flores",
        "citation": r"""@article{nllb2022,
  title   = {No Language Left Behind: Scaling Human-Centered Machine Translation},
  author  = {{NLLB Team} and Costa-juss{\`a}, Marta R. and Cross, James and {\c{C}}elebi, Onur and others},
  journal = {arXiv preprint arXiv:2207.04672},
  year    = {2022}
}
@article{goyal2022flores,
  title   = {The {Flores-101} Evaluation Benchmark for Low-Resource and Multilingual Machine Translation},
  author  = {Goyal, Naman and Gao, Cynthia and Chaudhary, Vishrav and Chen, Peng-Jen and Wenzek, Guillaume and Ju, Da and Krishnan, Sanjana and Ranzato, Marc'Aurelio and Guzm{\'a}n, Francisco and Fan, Angela},
  journal = {Transactions of the Association for Computational Linguistics},
  volume  = {10},
  pages   = {522--538},
  year    = {2022}
}
@misc{adelani2023sib200,
  title         = {SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+ Languages and Dialects},
  author        = {David Ifeoluwa Adelani and Hannah Liu and Xiaoyu Shen and Nikita Vassilyev and Jesujoba O. Alabi and Yanke Mao and Haonan Gao and Annie En-Shiun Lee},
  year          = {2023},
  eprint        = {2309.07445},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}""",
    },
    "floresv1_ne_si": {
        "name": "FLoRes v1 Nepali-English and Sinhala-English (Wikipedia)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/facebookresearch/flores",
        "citation": r"""@article{guzman2019flores,
  title   = {Two New Evaluation Datasets for Low-Resource Machine Translation: Nepali-English and Sinhala-English},
  author  = {Guzm\'{a}n, Francisco and Chen, Peng-Jen and Ott, Myle and Pino, Juan and Lample, Guillaume and Koehn, Philipp and Chaudhary, Vishrav and Ranzato, Marc'Aurelio},
  journal = {arXiv preprint arXiv:1902.01382},
  year    = {2019}
}""",
    },
    "ntrex128": {
        "name": "NTREX-128 (news, WMT19 newstest source)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/MicrosoftTranslator/NTREX",
        "citation": r"""@inproceedings{federmann-etal-2022-ntrex,
    title = "{NTREX}-128 {--} News Test References for {MT} Evaluation of 128 Languages",
    author = "Federmann, Christian and Kocmi, Tom and Xin, Ying",
    booktitle = "Proceedings of the First Workshop on Scaling Up Multilingual Evaluation",
    month = "nov",
    year = "2022",
    address = "Online",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2022.sumeval-1.4",
    pages = "21--24",
}""",
    },
    "tico19": {
        "name": "TICO-19 (Translation Initiative for COVID-19)",
        "licence": "CC0 1.0",
        "url": "https://tico-19.github.io",
        "citation": r"""@misc{tico-19,
author={Anastasopoulos, Antonios and Cattelan, Alessandro and Dou, Zi-Yi and Federico, Marcello and Federmann, Christian and  Genzel, Dmitriy and Guzm\'{a}n, Francisco and Hu, Junjie and Hughes, Macduff and Koehn, Philipp and Lazar, Rosie and Lewis, Will and Neubig, Graham and Niu, Mengmeng and \"{O}ktem, Alp and Paquin, Eric and Tang, Grace and Tur, Sylwia},
title={{TICO}-19: the {T}ranslation Initiative for {CO}vid-19},
year={2020},
note={{arXiv}:2007.01788}
}""",
    },
    "tatoeba_laser": {
        "name": "Tatoeba similarity search (LASER / XTREME)",
        "licence": "CC BY 2.0 FR",
        "url": "https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1",
        "citation": r"""@article{artetxe2019massively,
  title   = {Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author  = {Artetxe, Mikel and Schwenk, Holger},
  journal = {Transactions of the Association for Computational Linguistics},
  volume  = {7},
  pages   = {597--610},
  year    = {2019}
}""",
    },
    "tatoeba_challenge": {
        "name": "Tatoeba Translation Challenge test sets",
        "licence": "CC BY 2.0 FR",
        "url": "https://github.com/Helsinki-NLP/Tatoeba-Challenge",
        "citation": r"""@inproceedings{tiedemann-2020-tatoeba,
  title     = {The {T}atoeba {T}ranslation {C}hallenge -- {R}ealistic Data Sets for Low Resource and Multilingual {MT}},
  author    = {Tiedemann, J{\"o}rg},
  booktitle = {Proceedings of the Fifth Conference on Machine Translation},
  pages     = {1174--1182},
  year      = {2020}
}""",
    },
    "xquad_r": {
        "name": "XQuAD-R (LAReQA)",
        "licence": "CC BY-SA 4.0",
        "url": "https://github.com/google-research-datasets/lareqa",
        "citation": r"""@article{roy2020lareqa,
  title={LAReQA: Language-agnostic answer retrieval from a multilingual pool},
  author={Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  journal={arXiv preprint arXiv:2004.05484},
  year={2020}
}
@inproceedings{artetxe-etal-2020-cross,
  title     = {On the Cross-lingual Transferability of Monolingual Representations},
  author    = {Artetxe, Mikel and Ruder, Sebastian and Yogatama, Dani},
  booktitle = {Proceedings of ACL 2020},
  year      = {2020}
}""",
    },
}


def source_metadata(sources: Iterable[str]) -> dict[str, str]:
    """What a benchmark built from ``sources`` records about them: names, licences, citations, URLs."""
    names = sorted(set(sources))
    entries = [SOURCES.get(name) for name in names]
    known = [entry for entry in entries if entry]
    unknown = [name for name, entry in zip(names, entries, strict=True) if not entry]
    return {
        "source": ", ".join(names),
        "source_name": "; ".join([e["name"] for e in known] + unknown),
        # one licence per source, in the order of source_name (hub._licences pairs them by position)
        "licence": "; ".join([e["licence"] for e in known] + ["unknown (user data)"] * len(unknown)),
        "citation": "\n".join(e["citation"] for e in known),
        "url": " ".join(e["url"] for e in known),
    }
