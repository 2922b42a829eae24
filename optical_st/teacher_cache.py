"""The frozen teacher's outputs on disk: :class:`TeacherCache`, so the teacher runs once per text, not once per step.

The teacher of a distillation run never changes, yet without a cache every OT step runs it again, and every
student, seed and objective of a study runs it on the same English texts. A :class:`TeacherCache` stores,
per teacher input, the teacher's token embeddings (the real tokens only) and its sentence embedding, as
float16 files memory-mapped when read.

**Keys.** A folder per teacher: :func:`optical_st.search.model_fingerprint` (module layout, config including
``max_seq_length``, prompts and every weight; the evaluation embedding cache's fingerprint, one source of
truth). Inside it, an entry per *teacher input*: a digest of the token ids the teacher receives (its real
tokens, under the attention mask). The ids are the text after the prompt was prepended, tokenized and cut
at the run's ``max_length``, so prompt, length limit and text are all in the key, exactly as the teacher
saw them: a changed teacher or text is a miss, never a stale hit.

**Layout.** ``<directory>/<teacher fingerprint>/<shard>.tokens.npy`` (all token rows of the shard, float16),
``<shard>.sentences.npy`` (one row per entry) and ``<shard>.keys.json`` (key -> offset and length), the keys
file written last: a shard counts only once it is complete, so a crash mid-write leaves nothing read back.
Each :meth:`TeacherCache.save` writes a new shard with the entries computed since; runs sharing the folder
(seeds, objectives, students of a study, processes of one run) add shards side by side, never rewrite one.

Example::

    cache = TeacherCache("runs/teacher-cache", teacher)
    cache.fill(teacher, batches_of_teacher_inputs)   # one pass before training: misses run the teacher
    cache.save()
    loss = OTDistillLoss(student, teacher, teacher_cache=cache)   # steps read the cache
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from optical_st.search import model_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["TeacherCache", "teacher_input_key"]

logger = logging.getLogger(__name__)

_KEYS_SUFFIX = ".keys.json"
#: In-memory new token embeddings that make :meth:`TeacherCache.ensure` write a shard (then read it mapped).
FLUSH_BYTES = 256 * 2**20
_FORMAT = 1  # bump when the layout changes: an old folder is then read as empty, not misread


def teacher_input_key(input_ids: Tensor) -> str:
    """A digest of one teacher input's real token ids (no padding): the cache key of that input."""
    ids = input_ids.detach().to("cpu", torch.int64).contiguous().numpy()
    return hashlib.blake2b(ids.tobytes(), digest_size=16).hexdigest()


class TeacherCache:
    """The frozen teacher's token and sentence embeddings per input, float16 on disk (see the module docstring).

    Args:
        directory: the cache root, shared by every run with any teacher; a folder per teacher fingerprint.
        teacher: the frozen teacher (its fingerprint names the folder).
        fingerprint: a precomputed :func:`~optical_st.search.model_fingerprint` of ``teacher``.

    Counters: ``hits`` (inputs read from disk or from this run's earlier misses), ``misses`` (inputs the
    teacher ran on); :meth:`summary` reports them with the folder and the number of entries.
    """

    def __init__(
        self, directory: str | Path, teacher: SentenceTransformer, *, fingerprint: str | None = None
    ) -> None:
        self.fingerprint = fingerprint or model_fingerprint(teacher)
        self.directory = Path(directory) / f"v{_FORMAT}-{self.fingerprint}"
        self.hits = 0
        self.misses = 0
        # key -> (tokens (n, dim), sentence (dim,)), both float16 arrays (memory-mapped for saved shards)
        self._entries: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._pending: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._load_shards()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def _load_shards(self) -> None:
        if not self.directory.is_dir():
            return
        for keys_file in sorted(self.directory.glob(f"*{_KEYS_SUFFIX}")):
            self._load_shard(keys_file)

    def _load_shard(self, keys_file: Path) -> None:
        stem = keys_file.name[: -len(_KEYS_SUFFIX)]
        try:
            index = json.loads(keys_file.read_text(encoding="utf-8"))
            tokens = np.load(self.directory / f"{stem}.tokens.npy", mmap_mode="r")
            sentences = np.load(self.directory / f"{stem}.sentences.npy", mmap_mode="r")
        except (OSError, ValueError) as error:  # a damaged shard is skipped: its inputs are recomputed
            logger.warning("teacher cache: skipping unreadable shard %s (%s)", keys_file, error)
            return
        for key, (row, offset, length) in index.items():
            # memory-mapped views replace in-memory copies of the same entries (after save)
            self._entries[key] = (tokens[offset : offset + length], sentences[row])

    def outputs(self, teacher: SentenceTransformer, inputs: dict[str, Any]) -> dict[str, Tensor]:
        """``teacher(inputs)``'s ``token_embeddings``, ``attention_mask`` and ``sentence_embedding``, cached.

        Inputs seen before are read from the cache; the others run through the teacher (in eval mode, no
        gradient) and are kept for :meth:`save`. Every row comes back float16-rounded, hit or miss, so a
        run computes the same loss whether its cache was warm or cold. Padded positions are zeros (the
        loss gives them no mass).
        """
        keys, mask = self.ensure(teacher, inputs)
        device = inputs["input_ids"].device
        rows = [self._entries[key] for key in keys]
        tokens = torch.zeros((*mask.shape, rows[0][0].shape[-1]), dtype=torch.float32)
        for index, (row_tokens, _) in enumerate(rows):
            tokens[index, mask[index]] = torch.from_numpy(np.asarray(row_tokens, dtype=np.float32))
        sentences = torch.from_numpy(
            np.stack([np.asarray(sentence, dtype=np.float32) for _, sentence in rows])
        )
        return {
            "token_embeddings": tokens.to(device),
            "attention_mask": inputs["attention_mask"],
            "sentence_embedding": sentences.to(device),
        }

    def ensure(self, teacher: SentenceTransformer, inputs: dict[str, Any]) -> tuple[list[str], Tensor]:
        """Run the teacher on the rows of ``inputs`` not cached yet; return the rows' keys and the CPU mask."""
        mask = inputs["attention_mask"].detach().to("cpu").bool()
        ids = inputs["input_ids"].detach().to("cpu")
        keys = [teacher_input_key(row[row_mask]) for row, row_mask in zip(ids, mask, strict=True)]
        missing = [index for index, key in enumerate(keys) if key not in self._entries]
        # a key twice in one batch is computed once
        missing = list({keys[index]: index for index in missing}.values())
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            self._compute(teacher, inputs, missing, [keys[index] for index in missing], mask)
            if sum(tokens.nbytes for tokens, _ in self._pending.values()) > FLUSH_BYTES:
                self.save()  # a large run's new entries go to disk as they come, not all into memory
        return keys, mask

    def _compute(
        self,
        teacher: SentenceTransformer,
        inputs: dict[str, Any],
        rows: list[int],
        keys: list[str],
        mask: Tensor,
    ) -> None:
        batch, device = len(inputs["input_ids"]), next(teacher.parameters()).device
        selected = torch.as_tensor(rows)
        subset = {
            name: value[selected.to(value.device)].to(device)
            if isinstance(value, Tensor) and value.dim() >= 1 and len(value) == batch
            else value
            for name, value in inputs.items()
        }
        teacher.eval()  # frozen: no dropout, so a cached output equals a recomputed one
        with torch.no_grad():
            out = teacher(subset)
        tokens = out["token_embeddings"].detach().to("cpu", torch.float16).numpy()
        sentences = out["sentence_embedding"].detach().to("cpu", torch.float16).numpy()
        for position, (row, key) in enumerate(zip(rows, keys, strict=True)):
            entry = (tokens[position][mask[row].numpy()], sentences[position])
            self._entries[key] = entry
            self._pending[key] = entry

    def sentence_embeddings(self, teacher: SentenceTransformer, inputs: dict[str, Any]) -> np.ndarray:
        """The teacher's sentence embeddings of ``inputs`` as a float32 ``(batch, dim)`` array, cached."""
        keys, _ = self.ensure(teacher, inputs)
        return np.stack([np.asarray(self._entries[key][1], dtype=np.float32) for key in keys])

    def fill(self, teacher: SentenceTransformer, batches: Iterable[dict[str, Any]]) -> None:
        """One pass over a run's teacher inputs (tokenized batches) before training: misses run the teacher."""
        for inputs in batches:
            self.ensure(teacher, inputs)

    def save(self) -> Path | None:
        """Write the entries computed since the last save as a new shard; return its keys file (or ``None``)."""
        if not self._pending:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = uuid.uuid4().hex
        entries = list(self._pending.items())
        lengths = [len(tokens) for _, (tokens, _) in entries]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
        tokens = np.concatenate([tokens for _, (tokens, _) in entries]).astype(np.float16)
        sentences = np.stack([sentence for _, (_, sentence) in entries]).astype(np.float16)
        index = {key: (row, offsets[row], lengths[row]) for row, (key, _) in enumerate(entries)}
        for name, array in (("tokens", tokens), ("sentences", sentences)):
            partial = self.directory / f"{stem}.{name}.npy.partial"
            with partial.open("wb") as handle:
                np.save(handle, array)
            partial.replace(self.directory / f"{stem}.{name}.npy")
        keys_file = self.directory / f"{stem}{_KEYS_SUFFIX}"
        partial = keys_file.with_name(keys_file.name + ".partial")
        partial.write_text(json.dumps(index), encoding="utf-8")
        partial.replace(keys_file)  # last: the shard now counts
        self._pending.clear()
        self._load_shard(keys_file)
        return keys_file

    def summary(self) -> dict[str, Any]:
        """What the run record says about the cache: folder, teacher fingerprint, entries, hits and misses."""
        return {
            "directory": str(self.directory),
            "teacher_fingerprint": self.fingerprint,
            "entries": len(self._entries),
            "hits": self.hits,
            "misses": self.misses,
        }
