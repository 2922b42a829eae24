"""The South Asian language registry: codes, names, scripts and resource tiers.

Every other module speaks FLORES-200 codes (``npi_Deva``); users may type ISO 639-1 (``ne``),
ISO 639-3 (``npi``, also the macrolanguage ``nep``), the FLORES code or the English name. All of
them resolve through :func:`get_language`.

Resource tier
    ``low`` marks the five languages the project treats as low-resource: Nepali, Sinhala, Assamese,
    Odia and Sindhi. The tier is this project's own definition, not a published taxonomy: they are
    the languages of the fifteen for which the openly licensed bitext gathered for the project is
    smallest (Odia, Assamese and Sindhi have essentially nothing beyond FLORES; Nepali and Sinhala
    only FLoRes v1 / TICO-19 sized sets), which is the OPTICAL setting. ``mid`` marks the rest,
    except Hindi and Bengali, which are ``high``: they have the largest parallel corpora of the
    group (e.g. the Tatoeba and TICO-19 sets here). ``eng_Latn`` is the pivot, tier ``pivot``.

Romanized variants
    People type these languages in Latin script ("mero desh nepal ho"). Each of the fifteen has a
    romanized variant ``xxx_Latn`` (``npi_Latn``, also ``ne_Latn`` or ``Nepali (romanized)``) with the
    tier of its native language and ``native`` naming it. They are not in :data:`LANGUAGES` (which stays
    the fifteen plus English): :func:`get_language` resolves them, :data:`ROMANIZED` lists them, and
    :func:`parse_languages` reads ``all_Latn`` / ``low_Latn`` for a tier's romanized variants. Romanized
    text is made from native text by an :class:`optical_st.data.Romanizer`.

Example::

    >>> from optical_st.languages import get_language
    >>> get_language("ne").code
    'npi_Deva'
    >>> get_language("Sinhala").script
    'Sinhala'
    >>> get_language("ne_Latn").native, get_language("npi_Latn").tier
    ('npi_Deva', 'low')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Tier = Literal["pivot", "high", "mid", "low"]


@dataclass(frozen=True)
class Language:
    """One language: its FLORES-200 code and everything derived from it."""

    code: str
    """FLORES-200 code, e.g. ``npi_Deva``."""
    iso639_1: str
    iso639_3: str
    name: str
    script: str
    tier: Tier
    aliases: tuple[str, ...] = ()
    native: str | None = None
    """For a romanized variant (``npi_Latn``): the FLORES code of the native-script language."""

    @property
    def is_low_resource(self) -> bool:
        return self.tier == "low"

    @property
    def is_romanized(self) -> bool:
        """A South Asian language written in Latin script (``npi_Latn``), not English."""
        return self.native is not None

    @property
    def script_code(self) -> str:
        """ISO 15924 script code, e.g. ``Deva``."""
        return self.code.split("_", 1)[1]


LANGUAGES: tuple[Language, ...] = (
    Language("eng_Latn", "en", "eng", "English", "Latin", "pivot"),
    Language("hin_Deva", "hi", "hin", "Hindi", "Devanagari", "high"),
    Language("ben_Beng", "bn", "ben", "Bengali", "Bengali", "high", ("Bangla",)),
    Language("urd_Arab", "ur", "urd", "Urdu", "Arabic", "mid"),
    Language("tam_Taml", "ta", "tam", "Tamil", "Tamil", "mid"),
    Language("tel_Telu", "te", "tel", "Telugu", "Telugu", "mid"),
    Language("mar_Deva", "mr", "mar", "Marathi", "Devanagari", "mid"),
    Language("guj_Gujr", "gu", "guj", "Gujarati", "Gujarati", "mid"),
    Language("pan_Guru", "pa", "pan", "Punjabi", "Gurmukhi", "mid", ("Panjabi", "Eastern Panjabi")),
    Language("kan_Knda", "kn", "kan", "Kannada", "Kannada", "mid"),
    Language("mal_Mlym", "ml", "mal", "Malayalam", "Malayalam", "mid"),
    Language("npi_Deva", "ne", "npi", "Nepali", "Devanagari", "low", ("nep",)),
    Language("sin_Sinh", "si", "sin", "Sinhala", "Sinhala", "low", ("Sinhalese",)),
    Language("asm_Beng", "as", "asm", "Assamese", "Bengali", "low"),
    Language("ory_Orya", "or", "ory", "Odia", "Odia", "low", ("ori", "Oriya")),
    Language("snd_Arab", "sd", "snd", "Sindhi", "Arabic", "low"),
)

ROMANIZED_SCRIPT = "Latn"
"""ISO 15924 code of the romanized variants: ``npi_Deva`` -> ``npi_Latn``."""


def _romanized(language: Language) -> Language:
    return Language(
        f"{language.iso639_3}_{ROMANIZED_SCRIPT}",
        language.iso639_1,
        language.iso639_3,
        f"{language.name} (romanized)",
        "Latin",
        language.tier,
        (f"{language.iso639_1}_{ROMANIZED_SCRIPT}", f"romanized {language.name}"),
        native=language.code,
    )


ROMANIZED: tuple[Language, ...] = tuple(_romanized(lang) for lang in LANGUAGES if lang.tier != "pivot")
"""The Latin-script variants of the fifteen (``npi_Latn``, ...), in :data:`LANGUAGES` order."""

_INDEX: dict[str, Language] = {}
for _lang in ROMANIZED:
    for _key in (_lang.code, _lang.name, *_lang.aliases):
        _INDEX[_key.casefold()] = _lang
for _lang in LANGUAGES:
    for _key in (_lang.code, _lang.iso639_1, _lang.iso639_3, _lang.name, *_lang.aliases):
        _INDEX[_key.casefold()] = _lang


class UnknownLanguageError(ValueError):
    """Raised for a language code or name the registry does not know."""


def get_language(code_or_name: str | Language) -> Language:
    """Resolve ``hi``, ``hin``, ``hin_Deva``, ``hin-Deva`` or ``Hindi`` to its :class:`Language`.

    Raises:
        UnknownLanguageError: naming the input and listing every valid code.
    """
    if isinstance(code_or_name, Language):
        return code_or_name
    if not isinstance(code_or_name, str) or not code_or_name.strip():
        raise UnknownLanguageError(f"Language must be a non-empty string, got {code_or_name!r}.")
    key = code_or_name.strip().replace("-", "_").casefold()
    if key in _INDEX:
        return _INDEX[key]
    valid = ", ".join(f"{lang.code} ({lang.iso639_1}/{lang.iso639_3}, {lang.name})" for lang in LANGUAGES)
    raise UnknownLanguageError(
        f"Unknown language {code_or_name!r}. Valid languages: {valid}; romanized: the same codes with "
        f"_{ROMANIZED_SCRIPT} (e.g. npi_{ROMANIZED_SCRIPT})."
    )


def native_code(code_or_name: str | Language) -> str:
    """The native-script FLORES code: ``npi_Latn`` -> ``npi_Deva``; a native code is returned as it is."""
    language = get_language(code_or_name)
    return language.native or language.code


def romanized_code(code_or_name: str | Language) -> str:
    """The romanized variant's code: ``npi_Deva`` (or ``ne``) -> ``npi_Latn``.

    Raises:
        UnknownLanguageError: for English, which has no romanized variant.
    """
    language = get_language(code_or_name)
    if language.is_romanized:
        return language.code
    if language.tier == "pivot":
        raise UnknownLanguageError(
            f"{language.name} is written in Latin script already; it has no romanized variant."
        )
    return f"{language.iso639_3}_{ROMANIZED_SCRIPT}"


def normalize_code(code_or_name: str | Language) -> str:
    """The FLORES-200 code for any accepted spelling, e.g. ``normalize_code("ne") == "npi_Deva"``."""
    return get_language(code_or_name).code


def language_label(code: str, *, with_code: bool = False) -> str:
    """A language as a reader wants it: ``Nepali``, or ``Nepali (`npi_Deva`)`` ``with_code`` (model cards).

    A code the registry does not know is shown as it is (in backticks ``with_code``).
    """
    try:
        language = get_language(code)
    except UnknownLanguageError:
        return f"`{code}`" if with_code else code
    return f"{language.name} (`{language.code}`)" if with_code else language.name


def parse_languages(spec: str | Iterable[str]) -> list[str]:
    """Parse ``"npi,sin"``, ``"low"``, ``"all"`` or a list into FLORES codes, keeping order, no repeats.

    ``all`` means every South Asian language (English excluded); ``low``/``mid``/``high`` a tier;
    ``all_Latn``, ``low_Latn``, ... their romanized variants (``npi_Latn``, ...).
    An empty specification is an error, not an empty study.
    """
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    items = [s for s in items if s]
    if not items:
        raise ValueError("Empty language list: give codes such as 'npi,sin', a tier ('low') or 'all'.")
    codes: list[str] = []
    for item in items:
        selected = _group(item.casefold().replace("-", "_")) or [normalize_code(item)]
        codes.extend(c for c in selected if c not in codes)
    return codes


LANGUAGE_GROUPS: tuple[str, ...] = ("all", "low", "mid", "high")
"""Names :func:`parse_languages` reads as groups (and each with ``_Latn`` for its romanized variants)."""


def _group(key: str) -> list[str]:
    """The codes of a group name (``all``, ``low``, ``low_latn``, ...); empty for anything else."""
    base, _, script = key.partition("_")
    if base not in LANGUAGE_GROUPS or script not in ("", ROMANIZED_SCRIPT.casefold()):
        return []
    pool = ROMANIZED if script else tuple(lang for lang in LANGUAGES if lang.tier != "pivot")
    return [lang.code for lang in pool if base == "all" or lang.tier == base]


def is_language_group(spec: str | Iterable[str]) -> bool:
    """Whether ``spec`` is one group name (``all``, ``low``, ``all_Latn``, ...) rather than named languages."""
    return isinstance(spec, str) and bool(_group(spec.strip().casefold().replace("-", "_")))


ENGLISH = "eng_Latn"
"""The pivot: the FLORES code of English, the teacher's side of every bitext pair."""
SOUTH_ASIAN: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES if lang.tier != "pivot")
LOW_RESOURCE: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES if lang.tier == "low")
