"""The language registry: every accepted spelling, tiers, and readable errors."""

from __future__ import annotations

import pytest

from optical_st.languages import (
    LANGUAGES,
    LOW_RESOURCE,
    SOUTH_ASIAN,
    UnknownLanguageError,
    get_language,
    normalize_code,
    parse_languages,
)

PROJECT_CODES = [
    "hin",
    "ben",
    "urd",
    "npi",
    "sin",
    "tam",
    "tel",
    "mar",
    "guj",
    "pan",
    "kan",
    "mal",
    "ory",
    "asm",
    "snd",
]


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("hi", "hin_Deva"),
        ("hin", "hin_Deva"),
        ("hin_Deva", "hin_Deva"),
        ("hin-Deva", "hin_Deva"),
        ("Hindi", "hin_Deva"),
        ("ne", "npi_Deva"),
        ("npi", "npi_Deva"),
        ("nep", "npi_Deva"),
        ("NPI_DEVA", "npi_Deva"),
        ("Nepali", "npi_Deva"),
        (" si ", "sin_Sinh"),
        ("Sinhalese", "sin_Sinh"),
        ("or", "ory_Orya"),
        ("Oriya", "ory_Orya"),
        ("as", "asm_Beng"),
        ("sd", "snd_Arab"),
        ("Bangla", "ben_Beng"),
        ("en", "eng_Latn"),
    ],
)
def test_every_spelling_resolves_to_the_flores_code(spelling, code):
    assert normalize_code(spelling) == code


def test_registry_covers_the_project_languages_once():
    iso = [lang.iso639_3 for lang in LANGUAGES if lang.code != "eng_Latn"]
    assert sorted(iso) == sorted(PROJECT_CODES)
    assert len(SOUTH_ASIAN) == 15 and "eng_Latn" not in SOUTH_ASIAN


def test_script_and_tier():
    assert get_language("Sinhala").script == "Sinhala"
    assert get_language("asm").script == "Bengali"
    assert get_language("snd").script_code == "Arab"
    assert get_language("eng").tier == "pivot"
    assert sorted(LOW_RESOURCE) == ["asm_Beng", "npi_Deva", "ory_Orya", "sin_Sinh", "snd_Arab"]
    assert get_language("ne").is_low_resource and not get_language("hi").is_low_resource


@pytest.mark.parametrize("bad", ["xx", "klingon", "hin_Cyrl", "eng_Deva"])
def test_unknown_language_lists_the_valid_codes(bad):
    with pytest.raises(UnknownLanguageError) as error:
        get_language(bad)
    message = str(error.value)
    assert repr(bad) in message
    for lang in LANGUAGES:
        assert lang.code in message


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_language_is_an_error(bad):
    with pytest.raises(UnknownLanguageError):
        get_language(bad)


def test_parse_languages_lists_tiers_and_all():
    assert parse_languages("ne, si") == ["npi_Deva", "sin_Sinh"]
    assert parse_languages(["Hindi", "hin", "hin_Deva"]) == ["hin_Deva"]
    assert sorted(parse_languages("low")) == sorted(LOW_RESOURCE)
    assert parse_languages("all") == list(SOUTH_ASIAN)
    assert parse_languages("high") == ["hin_Deva", "ben_Beng"]
    assert parse_languages("npi,low")[0] == "npi_Deva" and len(parse_languages("npi,low")) == 5


@pytest.mark.parametrize("empty", ["", " , ", []])
def test_parse_languages_rejects_an_empty_list(empty):
    with pytest.raises(ValueError, match="Empty language list"):
        parse_languages(empty)


def test_parse_languages_names_the_unknown_item():
    with pytest.raises(UnknownLanguageError, match="'tlh'"):
        parse_languages("npi,tlh")
