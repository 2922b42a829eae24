"""OPTICAL's optimal-transport distillation as a sentence-transformers loss: :class:`OTDistillLoss`.

The loss is a thin layer: it runs the student on the low-resource side and the frozen teacher on the
English side, then hands token embeddings and masks to :mod:`optical_st.transport`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Dense
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator
from torch import Tensor, nn

from optical_st import transport
from optical_st.pretrained import model_label

if TYPE_CHECKING:
    from optical_st.teacher_cache import TeacherCache

__all__ = [
    "PROJECTION_OUTPUT_KEY",
    "STUDENT_PROMPT",
    "TEACHER_TOKENIZED_KEY",
    "OTDistillDataCollator",
    "OTDistillLoss",
    "add_token_projection",
    "find_token_projection",
]

logger = logging.getLogger(__name__)

#: Feature key under which :class:`OTDistillDataCollator` marks a column tokenized by the teacher.
TEACHER_TOKENIZED_KEY = "tokenized_for_teacher"
#: :class:`OTDistillDataCollator`'s default ``teacher_prompt``: the student's prompt for the column.
STUDENT_PROMPT = "<student prompt>"
#: Feature key the student's token projection (a stock ``Dense`` module) writes to.
PROJECTION_OUTPUT_KEY = "ot_projected_token_embeddings"

_STAT_KEYS = ("transport_cost", "plan_entropy", "marginal_error", "plan_sharpness")


@dataclass
class OTDistillDataCollator(SentenceTransformerDataCollator):
    """Data collator that tokenizes the English (first) column with the *teacher's* preprocessing.

    Needed only when teacher and student tokenizers differ (e.g. an English-only teacher). All other
    columns are tokenized by ``preprocess_fn`` (the student's ``model.preprocess``) exactly as the
    stock collator does, with the same prompts. The English column's features are marked with
    :data:`TEACHER_TOKENIZED_KEY` so :class:`OTDistillLoss` feeds them to the teacher unchanged.

    Args:
        preprocess_fn: the student's ``preprocess`` (as for the stock collator).
        teacher_preprocess_fn: the teacher's ``preprocess``; ``None`` behaves like the stock collator.
        teacher_column: position of the teacher's column among the text columns (default 0, English).
        teacher_prompt: the prompt the teacher's column gets. A teacher with its own vocabulary has its
            own prompts (all-MiniLM-L6-v2 has none, e5's ``"query: "`` would be noise to it), so the
            default :data:`STUDENT_PROMPT` (the student's prompt for that column) is right only for a
            teacher of the student's family; ``None`` or ``""`` means no prompt.

    Example::

        collator = loss.data_collator()   # == OTDistillDataCollator(student.preprocess, teacher.preprocess)
        trainer = SentenceTransformerTrainer(model=student, train_dataset=bitext, loss=loss,
                                             data_collator=collator)
    """

    teacher_preprocess_fn: Callable | None = None
    teacher_column: int = 0
    teacher_prompt: str | None = STUDENT_PROMPT

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if self.teacher_preprocess_fn is None or not features:
            return super().__call__(features)
        text_columns = [
            name for name in features[0] if name != "dataset_name" and name not in self.valid_label_columns
        ]
        if self.teacher_column >= len(text_columns):
            raise ValueError(
                f"teacher_column={self.teacher_column} but the batch has text columns {text_columns}"
            )
        teacher_column = text_columns[self.teacher_column]
        rest = super().__call__([{k: v for k, v in row.items() if k != teacher_column} for row in features])
        prompt = self.teacher_prompt
        if prompt == STUDENT_PROMPT:
            prompt = self._get_prompt_for_column(self._resolve_prompts(rest), teacher_column)
        # the same token limit as the student's columns (the collator's max_length), if one is set
        limit = {"max_length": self.max_length} if isinstance(self.max_length, int) else {}
        teacher_features = self.teacher_preprocess_fn(
            [row[teacher_column] for row in features], prompt=prompt, **limit
        )
        # collect_features() orders columns by first appearance of "<column>_input_ids", so the
        # teacher column's keys are inserted at its original position among the text columns.
        batch: dict[str, Any] = {k: v for k, v in rest.items() if k in ("dataset_name", "label")}
        student_keys = [k for k in rest if k not in batch]
        columns_before = text_columns[: self.teacher_column]
        for key in student_keys:
            if any(key.startswith(f"{column}_") for column in columns_before):
                batch[key] = rest[key]
        for key, value in teacher_features.items():
            batch[f"{teacher_column}_{key}"] = value
        batch[f"{teacher_column}_{TEACHER_TOKENIZED_KEY}"] = True
        for key in student_keys:
            batch.setdefault(key, rest[key])
        return batch


def find_token_projection(model: SentenceTransformer) -> Dense | None:
    """Return the student's OT token projection module (a ``Dense`` writing :data:`PROJECTION_OUTPUT_KEY`)."""
    for module in model.children():
        if isinstance(module, Dense) and module.module_output_name == PROJECTION_OUTPUT_KEY:
            return module
    return None


def add_token_projection(model: SentenceTransformer, output_dim: int) -> Dense:
    """Insert a learned linear token projection ``student_dim -> output_dim`` into ``model`` (in place).

    The projection is a stock sentence-transformers ``Dense`` placed right after the input module. It
    reads ``token_embeddings`` and writes :data:`PROJECTION_OUTPUT_KEY`, so pooling and the sentence
    embeddings (``encode()`` output) are unchanged; it is saved and loaded with the student by plain
    ``SentenceTransformer.save``/``SentenceTransformer(path)`` (no optical-st import needed to load).
    Its only inference cost is one ``Linear`` over the tokens. Reuses an existing projection.
    """
    existing = find_token_projection(model)
    if existing is not None:
        if existing.out_features != output_dim:
            raise ValueError(
                f"the student already has a token projection to {existing.out_features} dims, not {output_dim}"
            )
        return existing
    projection = Dense(
        in_features=model[0].get_embedding_dimension(),
        out_features=output_dim,
        activation_function=nn.Identity(),
        module_input_name="token_embeddings",
        module_output_name=PROJECTION_OUTPUT_KEY,
    ).to(model.device)
    modules = list(model._modules.values())
    model._modules.clear()
    for index, module in enumerate([modules[0], projection, *modules[1:]]):
        model.add_module(str(index), module)
    if model.module_kwargs:
        model.module_kwargs = {
            (str(int(name) + 1) if name.isdigit() and int(name) >= 1 else name): kwargs
            for name, kwargs in model.module_kwargs.items()
        }
    return projection


def _tokenizer_fingerprint(tokenizer: Any) -> str | None:
    if tokenizer is None:
        return None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        # Truncation/padding are call-time state mutated by earlier calls, not the tokenizer itself.
        state.pop("truncation", None)
        state.pop("padding", None)
        return json.dumps(state, sort_keys=True)
    return json.dumps(
        [
            type(tokenizer).__name__,
            sorted(tokenizer.get_vocab().items()),
            getattr(tokenizer, "do_lower_case", None),
        ]
    )


class OTDistillLoss(nn.Module):
    def __init__(
        self,
        model: SentenceTransformer,
        teacher: SentenceTransformer | None,
        *,
        reg: float = transport.DEFAULT_REG,
        reg_scale: Literal["absolute", "mean", "spread"] = transport.DEFAULT_REG_SCALE,
        debias: bool = True,
        cost: Literal["cosine", "sqeuclidean"] = "cosine",
        ot_weight: float = 1.0,
        sentence_weight: float = 0.0,
        sentence_loss: Literal["mse", "cosine"] = "mse",
        marginals: Literal["uniform", "norm", "idf"] = "uniform",
        exclude_special_tokens: bool = False,
        projection: bool | None = None,
        max_iter: int = 1000,
        tol: float = 1e-5,
        anneal: int = 0,
        teacher_cache: TeacherCache | None = None,
    ) -> None:
        r"""
        OPTICAL optimal-transport distillation (Huang, Yu & Allan, WSDM 2023): a frozen teacher encodes
        the English side of a bitext pair, the student encodes the low-resource side, and the student's
        token embeddings are pulled towards the teacher's along an entropic optimal-transport alignment.

        For a pair with student tokens :math:`s_1..s_n` and teacher tokens :math:`t_1..t_m`, the cost is
        :math:`C_{ij} = 1 - \cos(s_i, t_j)` (or :math:`\|s_i - t_j\|^2`), the marginals are token
        distributions :math:`a, b` (uniform over real tokens by default, zero on padding), and
        :math:`T` is the entropic OT plan (POT's batched log-domain Sinkhorn, in float32) of
        :math:`\mathrm{OT}_\varepsilon(s, t) = \min_T \langle T, C\rangle_F + \varepsilon \sum T \log T`.

        The OT term is, per pair and averaged over the batch, the **Sinkhorn divergence**
        :math:`S_\varepsilon(s, t) = \mathrm{OT}_\varepsilon(s, t) - \tfrac12 \mathrm{OT}_\varepsilon(s, s)
        - \tfrac12 \mathrm{OT}_\varepsilon(t, t)` (``debias=True``, the default; Feydy et al. 2019). It is
        :math:`\ge 0` and zero when the student's token cloud equals the teacher's, so a perfectly
        aligned student is a minimum. With ``debias=False`` the term is OPTICAL's
        :math:`\langle T, C\rangle_F`: the entropic value is biased (a student identical to the
        teacher still has loss and gradient), and minimising it pulls the student's tokens towards a
        blurred copy of the teacher's (plan entropy rises, sharpness falls during training). Plans are
        computed on detached costs, so the gradient is :math:`T \odot \partial C` for each problem —
        by Danskin's theorem exactly the gradient of the entropic values, with no autograd graph through
        the Sinkhorn iterations. The knowledge of query-document matching stays in the teacher; only
        cross-lingual alignment is distilled.
        An optional sentence-level term (Reimers & Gurevych 2020) compares pooled embeddings; OT only,
        sentence only, or both are one class's options (``ot_weight``, ``sentence_weight``).

        **Different tokenizers.** When teacher and student tokenizers are the same (OPTICAL's setup:
        a frozen copy of the student), the English column tokenized by the trainer's collator is fed to
        the teacher as is. When they differ, the teacher must see its own tokenization of the raw
        English text: pass ``data_collator=loss.data_collator()`` (an :class:`OTDistillDataCollator`)
        to ``SentenceTransformerTrainer``; it tokenizes the English column with the teacher's
        ``preprocess`` and marks it. ``SentenceTransformer.fit`` cannot take a collator; there (and
        whenever the mark is missing) the loss decodes the student's ids back to text and re-tokenizes
        it for the teacher, with a one-time warning: this is lossy (unknown tokens, normalisation,
        truncation at the student's length).

        **Different hidden sizes.** A learned linear token projection (student dim -> teacher dim) is
        inserted into the student as a stock ``Dense`` module that writes a separate feature
        (:func:`add_token_projection`): it trains with the student, is saved and loaded with it, and
        does not change the student's sentence embeddings. The sentence term uses the same projection.

        **Empty inputs.** A pair whose student or teacher side has no non-special token (an empty
        string) is skipped: it gets no weight in either term and is counted in
        ``last_stats["skipped_pairs"]``; a batch of only such pairs returns a zero loss (zero gradient),
        never NaN.

        Args:
            model: the student SentenceTransformer (trained; encodes the low-resource side).
            teacher: the frozen teacher (encodes English). ``None`` uses a frozen deep copy of ``model``
                (OPTICAL's setup). It is set to eval mode, ``requires_grad_(False)``, run under
                ``torch.no_grad()``, and deliberately *not* registered as a submodule, so none of its
                parameters can reach an optimizer (``fit`` collects every loss parameter).
            reg: entropic regularisation :math:`\varepsilon`, read as ``reg_scale`` says. A plain float
                attribute; a schedule may change it between steps. Must be positive and finite.
            reg_scale: ``"absolute"`` (``reg`` in cost units; cosine costs lie in [0, 2]), ``"mean"``
                (``reg`` times each pair's mean token cost) or ``"spread"`` (times the standard
                deviation of the pair's token costs: the same plan sharpness for every encoder,
                however anisotropic its token space). See :func:`optical_st.transport.pair_reg`.
            debias: the Sinkhorn divergence (``True``) or OPTICAL's plain entropic
                :math:`\langle T, C\rangle_F` (``False``, for comparison).
            cost: ``"cosine"`` (default) or ``"sqeuclidean"`` token distance.
            ot_weight: weight of the OT term (float attribute; 0 skips the OT solve).
            sentence_weight: weight of the sentence-level term (float attribute; 0 skips it).
            sentence_loss: ``"mse"`` or ``"cosine"`` (``1 - cos``) between the student's pooled
                embedding of the target and the teacher's of the English.
            marginals: token masses: ``"uniform"``; ``"norm"`` (proportional to each token
                embedding's L2 norm); ``"idf"`` (needs :meth:`compute_idf` or ``student_idf`` /
                ``teacher_idf`` tensors first).
            exclude_special_tokens: give zero mass to special tokens ([CLS]/[SEP], <s>/</s>, ...).
            projection: ``None`` adds a token projection only when hidden sizes differ (or reuses one
                the student already has); ``True`` always; ``False`` never (error if sizes differ).
            max_iter: maximum Sinkhorn iterations (annealing stages included). A solve that stops at
                the cap is logged once with its marginal error and counted in
                ``last_stats["sinkhorn_unconverged"]``.
            tol: Sinkhorn stopping tolerance (L2 error of the student-side marginal).
            anneal: epsilon scaling with warm-started potentials: start at ``2**anneal`` times the
                target regularisation and halve it stage by stage (0: off). Keeps a small effective
                ``reg`` within a bounded number of iterations.
            teacher_cache: a :class:`~optical_st.teacher_cache.TeacherCache` of this teacher: each step
                reads the teacher's token and sentence embeddings from it (float16) instead of running
                the teacher; inputs it lacks run the teacher once and are added. A plain attribute.

        References:
            - OPTICAL: Improving Cross-lingual Information Retrieval on Low-Resource Languages via
              Optimal Transport Distillation: https://arxiv.org/abs/2301.12566
            - Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation:
              https://arxiv.org/abs/2004.09813
            - Interpolating between Optimal Transport and MMD using Sinkhorn Divergences (Feydy et al.,
              AISTATS 2019): https://arxiv.org/abs/1810.08278
            - POT batched solver: https://pythonot.github.io/ (``ot.solve_batch``)

        Requirements:
            1. Bitext pairs (english, target), English first.
            2. A teacher that understands English; same tokenizer as the student, or use
               :meth:`data_collator` with ``SentenceTransformerTrainer``.

        Inputs:
            +--------------------------+--------+
            | Texts                    | Labels |
            +==========================+========+
            | (english, target) pairs  | none   |
            +--------------------------+--------+

        Relations:
            - :class:`sentence_transformers.losses.MSELoss` distils pooled sentence embeddings from
              pre-computed teacher labels; ``OTDistillLoss(sentence_weight=1, ot_weight=0)`` computes
              the same objective on the fly from the teacher.
            - ``last_stats``, ``last_plans`` and ``last_costs`` (from the last forward, detached) feed
              :class:`optical_st.callbacks.OTDistillCallback` and the demo's heatmap.

        Example:
            ::

                from datasets import Dataset
                from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
                from optical_st.losses import OTDistillLoss

                student = SentenceTransformer("intfloat/multilingual-e5-small")
                loss = OTDistillLoss(student, teacher=None, reg=0.05)   # teacher: frozen copy
                bitext = Dataset.from_dict({
                    "english": ["Nepal is a country in South Asia."],
                    "target": ["नेपाल दक्षिण एसियाको एक देश हो।"],
                })
                trainer = SentenceTransformerTrainer(model=student, train_dataset=bitext, loss=loss)
                trainer.train()
                print(loss.last_stats["transport_cost"])
        """
        super().__init__()
        if cost not in transport.COSTS:
            raise ValueError(f"cost must be one of {transport.COSTS}, got {cost!r}")
        if sentence_loss not in ("mse", "cosine"):
            raise ValueError(f"sentence_loss must be 'mse' or 'cosine', got {sentence_loss!r}")
        if marginals not in ("uniform", "norm", "idf"):
            raise ValueError(f"marginals must be 'uniform', 'norm' or 'idf', got {marginals!r}")
        transport.check_reg(reg)
        if reg_scale not in transport.REG_SCALES:
            raise ValueError(f"reg_scale must be one of {transport.REG_SCALES}, got {reg_scale!r}")
        if anneal < 0:
            raise ValueError(f"anneal must be >= 0, got {anneal}")
        if teacher is model:
            raise ValueError("teacher must be a separate frozen model; pass teacher=None for a frozen copy")
        self.teacher_is_student_copy = teacher is None
        if teacher is None:
            teacher = copy.deepcopy(model)
        self.model = model
        self.reg = float(reg)
        self.reg_scale = reg_scale
        self.debias = bool(debias)
        self.anneal = int(anneal)
        self.cost = cost
        self.ot_weight = float(ot_weight)
        self.sentence_weight = float(sentence_weight)
        self.sentence_loss = sentence_loss
        self.marginals = marginals
        self.exclude_special_tokens = exclude_special_tokens
        self.max_iter, self.tol = max_iter, tol
        self.student_idf: Tensor | None = None
        self.teacher_idf: Tensor | None = None
        self.teacher_cache = teacher_cache

        teacher.eval()
        teacher.requires_grad_(False)
        # A tuple hides the teacher from nn.Module registration: no .parameters(), no state_dict.
        self._teacher_holder = (teacher,)

        student_dim = model[0].get_embedding_dimension()
        teacher_dim = teacher[0].get_embedding_dimension()
        existing = find_token_projection(model)
        if projection is False and existing is None and student_dim != teacher_dim:
            raise ValueError(
                f"student hidden size {student_dim} != teacher hidden size {teacher_dim}; "
                "allow a learned projection (projection=None or True)"
            )
        if projection is True or (
            projection is None and (existing is not None or student_dim != teacher_dim)
        ):
            add_token_projection(model, teacher_dim)

        self.shared_tokenizer = _tokenizer_fingerprint(model.tokenizer) == _tokenizer_fingerprint(
            teacher.tokenizer
        )
        self._warned_retokenize = False
        self._warned_skip = False
        self._warned_unconverged = False
        self.last_stats: dict[str, float] = {}
        self.last_plans: Tensor | None = None
        self.last_costs: Tensor | None = None

    @property
    def teacher(self) -> SentenceTransformer:
        return self._teacher_holder[0]

    @property
    def projection(self) -> Dense | None:
        return find_token_projection(self.model)

    def data_collator(self, **kwargs: Any) -> OTDistillDataCollator:
        """An :class:`OTDistillDataCollator` for ``SentenceTransformerTrainer(data_collator=...)``.

        Keyword arguments (e.g. ``prompts``) go to the collator. When the tokenizers are shared this
        behaves like the stock collator plus the teacher mark.
        """
        return OTDistillDataCollator(
            preprocess_fn=self.model.preprocess, teacher_preprocess_fn=self.teacher.preprocess, **kwargs
        )

    def compute_idf(self, english_texts: Sequence[str], target_texts: Sequence[str]) -> None:
        """Fit IDF token weights for ``marginals="idf"`` (teacher on English, student on the target)."""
        self.teacher_idf = self._idf(self.teacher, english_texts)
        self.student_idf = self._idf(self.model, target_texts)

    @staticmethod
    def _idf(model: SentenceTransformer, texts: Sequence[str]) -> Tensor:
        tokenizer = model.tokenizer
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=True)["input_ids"]
        return transport.idf_weights(ids, vocab_size=len(tokenizer))

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        features = list(sentence_features)
        if len(features) != 2:
            raise ValueError(
                f"OTDistillLoss expects 2 text columns (english, target), got {len(features)}; "
                "select them with dataset.select_columns(['english', 'target'])"
            )
        english, target = features
        sizes = (len(target["input_ids"]), len(english["input_ids"]))
        if sizes[0] != sizes[1]:
            raise ValueError(
                f"OTDistillLoss: {sizes[0]} target texts but {sizes[1]} English texts in one batch"
            )
        teacher = self.teacher
        device = target["input_ids"].device
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        teacher_inputs = self._teacher_inputs(english, device)
        teacher_out = self._teacher_outputs(teacher_inputs)
        student_out = self.model(dict(target))  # a copy: modules write their outputs into the dict

        projection = self.projection
        student_tokens = student_out[PROJECTION_OUTPUT_KEY if projection is not None else "token_embeddings"]
        teacher_tokens = teacher_out["token_embeddings"]
        if not bool(torch.isfinite(student_tokens).all()):  # else Sinkhorn blames reg for NaN costs
            raise RuntimeError("training diverged: the student's token embeddings are NaN or infinite (a "
                               "learning rate far too large?); the checkpoints saved before are kept")  # fmt: skip
        student_ids, teacher_ids = target["input_ids"], teacher_inputs["input_ids"]
        student_attention = student_out["attention_mask"].bool()
        teacher_attention = teacher_out["attention_mask"].bool()
        student_special = self._special_mask(self.model, student_ids)
        teacher_special = self._special_mask(teacher, teacher_ids)
        valid = (student_attention & ~student_special).any(1) & (teacher_attention & ~teacher_special).any(1)
        n_skipped = int((~valid).sum())
        if n_skipped and not self._warned_skip:
            logger.warning(
                "OTDistillLoss: skipping %d pair(s) with an empty side (no non-special token)", n_skipped
            )
            self._warned_skip = True

        zero = student_tokens.sum() * 0.0  # keeps the graph connected when a term is absent
        stats: dict[str, float] = dict.fromkeys(
            (*_STAT_KEYS, "ot_loss", "sentence_loss", "sinkhorn_iterations", "effective_reg"), float("nan")
        )
        stats["skipped_pairs"] = float(n_skipped)
        total = zero.float()
        student_mask, teacher_mask = student_attention, teacher_attention
        if self.exclude_special_tokens:
            student_mask, teacher_mask = student_mask & ~student_special, teacher_mask & ~teacher_special
        self.last_plans = self.last_costs = None
        with torch.autocast(device_type=device.type, enabled=False):
            if self.ot_weight != 0.0 and bool(valid.any()):
                ot_loss = self._ot_term(
                    student_tokens.float(), teacher_tokens.float(), student_mask, teacher_mask,
                    student_ids, teacher_ids, valid, stats,
                )  # fmt: skip
                total = total + self.ot_weight * ot_loss
            if self.sentence_weight != 0.0 and bool(valid.any()):
                sentence_loss = self._sentence_term(
                    student_out["sentence_embedding"][valid].float(),
                    teacher_out["sentence_embedding"][valid].float(),
                    projection,
                )
                stats["sentence_loss"] = float(sentence_loss.detach())
                total = total + self.sentence_weight * sentence_loss
        self.last_stats = stats
        return total

    def _ot_term(
        self,
        student_tokens: Tensor,
        teacher_tokens: Tensor,
        student_mask: Tensor,
        teacher_mask: Tensor,
        student_ids: Tensor,
        teacher_ids: Tensor,
        valid: Tensor,
        stats: dict[str, float],
    ) -> Tensor:
        student_weights = self._token_weights(student_tokens, student_ids, self.student_idf, "student")
        teacher_weights = self._token_weights(teacher_tokens, teacher_ids, self.teacher_idf, "teacher")
        a = transport.token_marginals(student_mask, student_weights)
        b = transport.token_marginals(teacher_mask, teacher_weights)
        # A row can still be massless with exclude_special_tokens=False only if it is all padding.
        valid = valid & (a.sum(1) > 0) & (b.sum(1) > 0)
        if not bool(valid.any()):
            return student_tokens.sum() * 0.0
        transport.check_reg(self.reg)  # a schedule may have set it
        term = transport.ot_term(
            "divergence" if self.debias else "entropic",
            student_tokens[valid], teacher_tokens[valid], a[valid], b[valid],
            cost=self.cost, reg=self.reg, reg_scale=self.reg_scale, max_iter=self.max_iter, tol=self.tol,
            anneal=self.anneal,
        )  # fmt: skip
        ot_loss = term.value.mean()
        for key, value in transport.plan_statistics(term.plans, term.costs, a[valid], b[valid]).items():
            stats[key] = float(value.mean())
        stats["ot_loss"] = float(ot_loss.detach())
        stats["sinkhorn_iterations"] = float(term.info.n_iter)
        stats["sinkhorn_unconverged"] = float(not term.info.converged)
        stats["effective_reg"] = float(term.reg.mean())
        if not term.info.converged:
            self._warn_unconverged(term)
        batch, n, m = student_tokens.shape[0], student_tokens.shape[1], teacher_tokens.shape[1]
        rows = (valid.nonzero().squeeze(1),)
        self.last_plans = term.plans.new_zeros(batch, n, m).index_put_(rows, term.plans)
        self.last_costs = term.costs.new_zeros(batch, n, m).index_put_(rows, term.costs)
        return ot_loss

    def _warn_unconverged(self, term: transport.OTTerm) -> None:
        if self._warned_unconverged:
            return
        self._warned_unconverged = True
        logger.warning(
            "OTDistillLoss: Sinkhorn stopped at max_iter=%d before reaching tol=%g (marginal error up to "
            "%.3g, mean effective reg %.3g from reg=%g, reg_scale=%r); the plans are approximate. Raise "
            "reg or max_iter, or anneal. Warned once; last_stats['sinkhorn_unconverged'] counts every step.",
            self.max_iter, self.tol, float(term.info.marginal_error.max()), float(term.reg.mean()), self.reg,
            self.reg_scale,
        )  # fmt: skip

    def _sentence_term(self, student: Tensor, teacher: Tensor, projection: Dense | None) -> Tensor:
        if projection is not None and student.shape[-1] == projection.in_features:
            student = projection.linear(student)
        if student.shape[-1] != teacher.shape[-1]:
            raise ValueError(
                f"sentence embeddings differ in size (student {student.shape[-1]}, teacher {teacher.shape[-1]})"
            )
        if self.sentence_loss == "mse":
            return nn.functional.mse_loss(student, teacher)
        return (1.0 - nn.functional.cosine_similarity(student, teacher, dim=-1)).mean()

    def _token_weights(self, tokens: Tensor, ids: Tensor, idf: Tensor | None, side: str) -> Tensor | None:
        if self.marginals == "uniform":
            return None
        if self.marginals == "norm":
            return tokens.detach().norm(dim=-1)
        if idf is None:
            raise ValueError(
                f"marginals='idf' needs {side} IDF weights: call loss.compute_idf(english, target) first"
            )
        return idf.to(ids.device)[ids]

    @staticmethod
    def _special_mask(model: SentenceTransformer, input_ids: Tensor) -> Tensor:
        """Structural special tokens ([CLS]/[SEP]/<s>/</s>/pad/mask); the unknown token is content."""
        tokenizer = model.tokenizer
        special_ids = set(getattr(tokenizer, "all_special_ids", None) or [])
        special_ids.discard(getattr(tokenizer, "unk_token_id", None))
        ids = torch.as_tensor(sorted(special_ids), dtype=input_ids.dtype, device=input_ids.device)
        return torch.isin(input_ids, ids)

    def fill_teacher_cache(self, cache: TeacherCache, english_batches: Iterable[dict[str, Any]]) -> None:
        """Fill ``cache`` from ``english_batches`` (the English features as the training collator makes
        them, so every step is a hit), then read the teacher's outputs from it."""
        device = next(self.teacher.parameters()).device
        for english in english_batches:
            cache.ensure(self.teacher, self._teacher_inputs(english, device))
        self.teacher_cache = cache

    def _teacher_outputs(self, teacher_inputs: dict[str, Any]) -> dict[str, Tensor]:
        """The frozen teacher's outputs: read from ``teacher_cache`` when one is set, else computed."""
        if self.teacher_cache is not None:
            return self.teacher_cache.outputs(self.teacher, teacher_inputs)
        self.teacher.eval()
        with torch.no_grad():
            return self.teacher(dict(teacher_inputs))

    def _teacher_inputs(self, english: dict[str, Any], device: torch.device) -> dict[str, Any]:
        if english.get(TEACHER_TOKENIZED_KEY) or self.shared_tokenizer:
            inputs = {k: v for k, v in english.items() if k != TEACHER_TOKENIZED_KEY}
            limit = self.teacher.max_seq_length
            if not english.get(TEACHER_TOKENIZED_KEY) and limit and inputs["input_ids"].shape[1] > limit:
                inputs = {
                    k: v[:, :limit] if isinstance(v, Tensor) and v.dim() == 2 else v
                    for k, v in inputs.items()
                }
            return inputs
        if not self._warned_retokenize:
            logger.warning(
                "OTDistillLoss: teacher and student tokenizers differ and the English column was tokenized "
                "by the student; decoding and re-tokenizing it for the teacher (lossy). With "
                "SentenceTransformerTrainer pass data_collator=loss.data_collator() instead."
            )
            self._warned_retokenize = True
        texts = self.model.tokenizer.batch_decode(english["input_ids"], skip_special_tokens=True)
        inputs = self.teacher.preprocess(texts)
        return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}

    def get_config_dict(self) -> dict[str, Any]:
        projection = self.projection
        return {
            "teacher": "frozen copy of the student"
            if self.teacher_is_student_copy
            else model_label(self.teacher, public=True),
            "debias": self.debias,
            "reg": self.reg,
            "reg_scale": self.reg_scale,
            "anneal": self.anneal,
            "cost": self.cost,
            "ot_weight": self.ot_weight,
            "sentence_weight": self.sentence_weight,
            "sentence_loss": self.sentence_loss,
            "marginals": self.marginals,
            "exclude_special_tokens": self.exclude_special_tokens,
            "projection": None
            if projection is None
            else f"{projection.in_features}->{projection.out_features}",
            "shared_tokenizer": self.shared_tokenizer,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }

    # OPTICAL's citation, the project's only copy: model cards cite what the run record's loss says, and
    # a class attribute (not a property) lets the scaling report cite it without a loss object.
    citation = """
@inproceedings{huang2023optical,
    title = "Improving Cross-lingual Information Retrieval on Low-Resource Languages via Optimal Transport Distillation",
    author = "Huang, Zhiqi and Yu, Puxuan and Allan, James",
    booktitle = "Proceedings of the Sixteenth ACM International Conference on Web Search and Data Mining (WSDM '23)",
    year = "2023",
    url = "https://arxiv.org/abs/2301.12566",
}
"""
