"""``Romanizer``: South Asian text in Latin script, as people type it, through a well-kept library.

Two independent back-ends, so that a model trained on one scheme can be tested on another:

``uroman``
    Hermjakob, May & Knight's universal romanizer (PyPI ``uroman``, ISI; its licence asks for
    acknowledgement, given in NOTICE and in every card). Every script, Urdu and Sindhi included; it
    writes what the letters say, so Arabic-script text loses the short vowels people write in Roman
    Urdu ("pakstan ka daralhkwmt").
``indic``
    A transliteration scheme of PyPI ``indic-transliteration`` (default ``iso``, ISO 15919, the one
    scheme that maps every letter of the ten Brahmic scripts here: ``mērō dēśa nēpāla hō``), folded to
    plain lowercase ASCII (``mero desa nepala ho``). Brahmic scripts only (not Urdu or Sindhi). The
    library reads Tamil as a Sanskrit script (த -> ``dha``): that is its scheme, kept as it is.

Both are folded the same way (``lowercase``, ``ascii``): Unicode compatibility decomposition, combining
marks and format characters (ZWJ) dropped, dandas written as full stops, whitespace collapsed.
Optional seeded informal-spelling ``noise`` (:mod:`optical_st.data._spelling`) follows.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from optical_st.data._spelling import informal_spelling
from optical_st.languages import Language, get_language, native_code

ROMANIZER_BACKENDS: tuple[str, ...] = ("uroman", "indic")
BACKEND_LIBRARIES = {"uroman": "uroman", "indic": "indic-transliteration"}
# What a card says of each back-end: uroman's licence asks for acknowledgement and citation.
BACKEND_CREDITS = {
    "uroman": (
        "Romanized with uroman (Ulf Hermjakob, USC Information Sciences Institute), used under its licence, "
        "which asks for this acknowledgement and the citation below."
    ),
    "indic": "Romanized with indic-transliteration (Sanskrit programmers, MIT licence).",
}
BACKEND_CITATIONS = {
    "uroman": (
        "@inproceedings{hermjakob2018uroman,\n"
        "  title     = {Out-of-the-box Universal {R}omanization Tool uroman},\n"
        "  author    = {Hermjakob, Ulf and May, Jonathan and Knight, Kevin},\n"
        "  booktitle = {Proceedings of ACL 2018, System Demonstrations},\n"
        "  pages     = {13--18},\n"
        "  year      = {2018},\n"
        "  url       = {https://aclanthology.org/P18-4003}\n"
        "}"
    ),
    "indic": "",
}

# The indic-transliteration scheme of each native script (Assamese has its own: ৰ, ৱ).
INDIC_SCRIPT_SCHEMES: dict[str, str] = {
    "Devanagari": "devanagari",
    "Bengali": "bengali",
    "Gujarati": "gujarati",
    "Gurmukhi": "gurmukhi",
    "Kannada": "kannada",
    "Malayalam": "malayalam",
    "Odia": "oriya",
    "Sinhala": "sinhala",
    "Tamil": "tamil",
    "Telugu": "telugu",
}
INDIC_LANGUAGE_SCHEMES: dict[str, str] = {"asm_Beng": "assamese"}

_DANDAS = re.compile(r"\s*(\|\||\||।|॥)")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Romanizer:
    """Native-script South Asian text -> Latin script, reproducibly, with its provenance.

    Args:
        backend: ``"uroman"`` or ``"indic"`` (see the module docstring).
        scheme: the ``indic`` back-end's target scheme (an ``indic_transliteration.sanscript`` scheme
            name: ``iso``, ``optitrans``, ``itrans``, ``hk``, ...); ignored by ``uroman``.
        lowercase: lowercase the output (people rarely type ITRANS capitals).
        ascii: fold to ASCII (``ā`` -> ``a``; characters with no ASCII form are dropped).
        noise: probability with which each informal-spelling rule fires at each place it applies
            (0: clean scheme output). The rules are :data:`~optical_st.data.SPELLING_RULES`.
        seed: seed of the noise; the noise of a sentence depends only on (seed, language, text), so a
            sentence is spelt the same way whatever else is romanized with it.

    Raises:
        ValueError: an unknown back-end or scheme, or ``noise`` outside [0, 1].

    Example::

        >>> Romanizer().romanize("मेरो देश नेपाल हो।", "npi_Deva")
        'mero desh nepaal ho.'
        >>> Romanizer("indic").romanize("मेरो देश नेपाल हो।", "npi_Deva")
        'mero desa nepala ho.'
    """

    backend: str = "uroman"
    scheme: str = "iso"
    lowercase: bool = True
    ascii: bool = True
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.backend not in ROMANIZER_BACKENDS:
            raise ValueError(
                f"unknown romanizer {self.backend!r}; choose one of {', '.join(ROMANIZER_BACKENDS)}"
            )
        if self.backend == "indic" and self.scheme not in _indic_schemes():
            raise ValueError(
                f"unknown indic-transliteration scheme {self.scheme!r}; e.g. iso, optitrans, itrans, hk"
            )
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise must be a probability between 0 and 1, got {self.noise}")

    @classmethod
    def parse(cls, spec: str) -> Romanizer:
        """``uroman``, ``indic``, ``indic:iso``, with ``+noise=0.3`` and ``+seed=1`` (the CLI's form).

        Example::

            >>> Romanizer.parse("indic:iso+noise=0.2").name
            'indic-iso+noise0.2'
        """
        head, *options = [part.strip() for part in spec.split("+")]
        backend, _, scheme = head.partition(":")
        values: dict[str, Any] = {"backend": backend}
        if scheme:
            values["scheme"] = scheme
        for option in options:
            key, _, value = option.partition("=")
            if key not in ("noise", "seed") or not value:
                raise ValueError(f"romanizer {spec!r}: options are +noise=P and +seed=N, got {option!r}")
            values[key] = float(value) if key == "noise" else int(value)
        return cls(**values)

    @property
    def name(self) -> str:
        """A short label for tables and benchmark names: ``uroman``, ``indic-iso+noise0.3``."""
        label = self.backend if self.backend == "uroman" else f"{self.backend}-{self.scheme}"
        if self.noise:
            label += f"+noise{self.noise:g}" + (f"+seed{self.seed}" if self.seed else "")
        return label

    @property
    def library(self) -> str:
        return BACKEND_LIBRARIES[self.backend]

    @property
    def version(self) -> str:
        """The installed version of the back-end's library (recorded with every romanized text)."""
        return metadata.version(self.library)

    def supports(self, language: str | Language) -> bool:
        """Whether this romanizer writes ``language`` (a native or ``_Latn`` code): ``indic`` has no Arabic script."""
        native = get_language(native_code(language))
        return (
            self.backend == "uroman"
            or native.code in INDIC_LANGUAGE_SCHEMES
            or native.script in INDIC_SCRIPT_SCHEMES
        )

    def romanize(self, text: str, language: str | Language) -> str:
        """One sentence of ``language`` (its native code or its ``_Latn`` variant) in Latin script."""
        return self.romanize_all([text], language)[0]

    def romanize_all(self, texts: list[str], language: str | Language) -> list[str]:
        """Every text of one language, in order.

        Raises:
            ValueError: the back-end cannot write this language's script (``indic`` and Urdu/Sindhi).
        """
        native = get_language(native_code(language))
        if not self.supports(native):
            raise ValueError(
                f"the {self.backend} romanizer has no scheme for {native.name} ({native.script} script); "
                "use the uroman romanizer for it"
            )
        raw = self._backend(native)
        romanized = [self._fold(raw(text)) for text in texts]
        if self.noise:
            romanized = [
                informal_spelling(text, self.noise, seed=f"{self.seed}:{native.code}:{original}")
                for text, original in zip(romanized, texts, strict=True)
            ]
        return romanized

    def to_dict(self) -> dict[str, Any]:
        """What results files and cards record: name, library and version, every option, credit and citation."""
        return {
            "name": self.name,
            "library": self.library,
            "version": self.version,
            **asdict(self),
            "credit": BACKEND_CREDITS[self.backend],
            "citation": BACKEND_CITATIONS[self.backend],
        }

    def _backend(self, native: Language):
        if self.backend == "uroman":
            uroman = _uroman()
            return functools.partial(uroman.romanize_string, lcode=native.iso639_3)
        from indic_transliteration import sanscript

        source = INDIC_LANGUAGE_SCHEMES.get(native.code) or INDIC_SCRIPT_SCHEMES[native.script]
        return functools.partial(_transliterate, sanscript.transliterate, source, self.scheme)

    def _fold(self, text: str) -> str:
        text = _DANDAS.sub(".", text)
        if self.ascii:
            decomposed = unicodedata.normalize("NFKD", text)
            text = "".join(
                c for c in decomposed if c.isascii() and unicodedata.category(c) not in ("Mn", "Cf")
            )
        if self.lowercase:
            text = text.lower()
        return _SPACES.sub(" ", text).strip()


def _transliterate(transliterate, source: str, scheme: str, text: str) -> str:
    return transliterate(text, source, scheme)


@functools.lru_cache(maxsize=1)
def _uroman():
    """One ``uroman.Uroman`` per process: building it reads its Unicode tables (about a second)."""
    import uroman

    return uroman.Uroman()


@functools.lru_cache(maxsize=1)
def _indic_schemes() -> frozenset[str]:
    from indic_transliteration import sanscript

    return frozenset(sanscript.SCHEMES)
