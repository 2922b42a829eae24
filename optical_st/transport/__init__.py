"""Tensor kernels for token-level optimal transport: costs, marginals, plans and the Sinkhorn divergence.

Everything here is a pure function of tensors (no models, no tokenizers, no hidden state). Shapes use
``B`` for the batch, ``n`` for student tokens, ``m`` for teacher tokens and ``d`` for the hidden size.
Padding is expressed through masks and zero marginal mass, never through ``inf`` costs (which make the
log-domain Sinkhorn iterations produce NaN).

The batched solver is POT's :func:`ot.solve_batch` with ``method="log_sinkhorn"`` (finite at small
``reg``, unlike the plain method) and ``grad="detach"``: plans are computed on detached costs and the
differentiable values are ``(plan * cost).sum()`` expressions. By Danskin's (envelope) theorem their
gradient with respect to the costs is exactly the gradient of the entropic OT value
``OT_eps(a, b) = min_T <T, C> + eps * sum T log T``, and no autograd graph is kept through the
Sinkhorn iterations.

Two OT terms are offered (:data:`OT_TERMS`), both returning an :class:`OTTerm`:

- ``"divergence"``, :func:`sinkhorn_divergence` (the default of
  :class:`optical_st.losses.OTDistillLoss`): ``S_eps(s, t) = OT_eps(s, t) - 1/2 OT_eps(s, s) -
  1/2 OT_eps(t, t)`` (Genevay et al. 2018; Feydy et al. 2019). It is >= 0 and 0 when the two token
  clouds coincide, so a perfectly aligned student is a minimum. The plain entropic value is not: it
  pulls the student's tokens towards a blurred, shrunk copy of the teacher's.
- ``"entropic"``, :func:`entropic_transport`: OPTICAL's ``<T, C>_F`` with the entropic plan (biased;
  what optical-st shipped first, kept for comparison).

``eps`` is set in cost units or relative to each pair's costs (:data:`REG_SCALES`, :func:`pair_reg`),
and a small ``eps`` can be reached by annealing with warm-started potentials (``anneal`` in
:func:`solve_plans`) in a bounded number of iterations.

Example::

    import torch
    from optical_st.transport import align

    student = torch.randn(5, 16)   # 5 student tokens, hidden size 16
    teacher = torch.randn(7, 16)   # 7 teacher tokens
    plan, cost = align(student, teacher)
    plan.shape, float(plan.sum())  # (torch.Size([5, 7]), 1.0)

References:
    - Feydy, Séjourné, Vialard, Amari, Trouvé, Peyré. Interpolating between Optimal Transport and MMD
      using Sinkhorn Divergences. AISTATS 2019. https://arxiv.org/abs/1810.08278
    - Genevay, Peyré, Cuturi. Learning Generative Models with Sinkhorn Divergences. AISTATS 2018.
    - Schmitzer. Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport Problems.
      SIAM J. Sci. Comput. 2019 (epsilon scaling with warm-started potentials).
"""

from optical_st.transport._costs import COSTS, CostName, cost_matrix, pair_mask
from optical_st.transport._diagnostics import Alignment, align, plan_statistics
from optical_st.transport._marginals import idf_weights, token_marginals
from optical_st.transport._regularisation import (
    DEFAULT_REG,
    DEFAULT_REG_SCALE,
    MAX_REG,
    REG_SCALES,
    RegScale,
    check_reg,
    pair_reg,
)
from optical_st.transport._solve import (
    ANNEAL_STAGE_ITERATIONS,
    SinkhornInfo,
    entropic_value,
    solve_plans,
    transport_cost,
)
from optical_st.transport._terms import (
    OT_TERMS,
    OTTerm,
    OTTermName,
    entropic_transport,
    ot_term,
    sinkhorn_divergence,
)

__all__ = [
    "ANNEAL_STAGE_ITERATIONS",
    "COSTS",
    "DEFAULT_REG",
    "DEFAULT_REG_SCALE",
    "MAX_REG",
    "OT_TERMS",
    "REG_SCALES",
    "Alignment",
    "CostName",
    "OTTerm",
    "OTTermName",
    "RegScale",
    "SinkhornInfo",
    "align",
    "check_reg",
    "cost_matrix",
    "entropic_transport",
    "entropic_value",
    "idf_weights",
    "ot_term",
    "pair_mask",
    "pair_reg",
    "plan_statistics",
    "sinkhorn_divergence",
    "solve_plans",
    "token_marginals",
    "transport_cost",
]
