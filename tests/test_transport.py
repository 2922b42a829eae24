"""Tensor-level tests of optical_st.transport against POT's single-pair solvers."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from optical_st import transport

TIGHT = {"max_iter": 20000, "tol": 1e-12}


def _padded_batch(lengths_student, lengths_teacher, dim=8, dtype=torch.float64, seed=0, pad_to=None):
    generator = torch.Generator().manual_seed(seed)
    n = pad_to or max(lengths_student)
    m = pad_to or max(lengths_teacher)
    batch = len(lengths_student)
    student = torch.randn(batch, n, dim, generator=generator, dtype=dtype)
    teacher = torch.randn(batch, m, dim, generator=generator, dtype=dtype)
    student_mask = torch.arange(n)[None] < torch.tensor(lengths_student)[:, None]
    teacher_mask = torch.arange(m)[None] < torch.tensor(lengths_teacher)[:, None]
    return student, teacher, student_mask, teacher_mask


def _solve(student, teacher, student_mask, teacher_mask, reg=0.05, cost="cosine", **kwargs):
    costs = transport.cost_matrix(student, teacher, cost, student_mask, teacher_mask)
    a = transport.token_marginals(student_mask, dtype=costs.dtype)
    b = transport.token_marginals(teacher_mask, dtype=costs.dtype)
    return transport.solve_plans(costs, a, b, reg, **kwargs), costs, a, b


@pytest.mark.parametrize("cost", ["cosine", "sqeuclidean"])
def test_plans_match_independent_pot_sinkhorn_per_pair(cost):
    lengths_s, lengths_t = [5, 3, 7, 1], [4, 6, 2, 3]
    student, teacher, student_mask, teacher_mask = _padded_batch(lengths_s, lengths_t, seed=1)
    reg = 0.05 if cost == "cosine" else 1.0
    plans, _, _, _ = _solve(student, teacher, student_mask, teacher_mask, reg=reg, cost=cost, **TIGHT)
    for i, (n, m) in enumerate(zip(lengths_s, lengths_t, strict=True)):
        s, t = student[i, :n].numpy(), teacher[i, :m].numpy()
        if cost == "cosine":
            reference_cost = ot.dist(s, t, metric="cosine")
        else:
            reference_cost = ot.dist(s, t, metric="sqeuclidean")
        reference = ot.sinkhorn(
            np.full(n, 1 / n), np.full(m, 1 / m), reference_cost, reg, method="sinkhorn_log", stopThr=1e-13,
            numItermax=20000,
        )  # fmt: skip
        np.testing.assert_allclose(plans[i, :n, :m].numpy(), reference, atol=1e-5, rtol=0)
        assert plans[i, n:].abs().sum() == 0 and plans[i, :, m:].abs().sum() == 0


def test_padding_gets_zero_mass_and_pad_length_changes_nothing():
    lengths_s, lengths_t = [4, 2, 6], [5, 3, 2]
    short = _padded_batch(lengths_s, lengths_t, seed=2)
    plans_short, costs_short, _, _ = _solve(*short, reg=0.2, tol=1e-10)
    # Same tokens with 9 extra padding positions filled with garbage embeddings.
    student, teacher, _, _ = _padded_batch(lengths_s, lengths_t, seed=3, pad_to=15)
    student[:, :6], teacher[:, :5] = short[0], short[1]
    student_mask = torch.arange(15)[None] < torch.tensor(lengths_s)[:, None]
    teacher_mask = torch.arange(15)[None] < torch.tensor(lengths_t)[:, None]
    plans_long, costs_long, _, _ = _solve(student, teacher, student_mask, teacher_mask, reg=0.2, tol=1e-10)
    assert plans_long[~student_mask].abs().max() == 0
    assert plans_long.transpose(1, 2)[~teacher_mask].abs().max() == 0
    torch.testing.assert_close(plans_long[:, :6, :5], plans_short, atol=1e-9, rtol=0)
    torch.testing.assert_close(
        transport.transport_cost(plans_long, costs_long), transport.transport_cost(plans_short, costs_short)
    )


def test_permuting_teacher_tokens_permutes_the_plan():
    student, teacher, student_mask, teacher_mask = _padded_batch([6, 6], [7, 7], dtype=torch.float64, seed=4)
    permutation = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    plans, _, _, _ = _solve(student, teacher, student_mask, teacher_mask, **TIGHT)
    plans_permuted, _, _, _ = _solve(student, teacher[:, permutation], student_mask, teacher_mask, **TIGHT)
    torch.testing.assert_close(plans_permuted, plans[:, :, permutation], atol=1e-10, rtol=0)


@pytest.mark.parametrize("cost", ["cosine", "sqeuclidean"])
def test_gradient_matches_finite_differences_of_entropic_ot_value(cost):
    """grad of (plan.detach() * C).sum() == d/dX of min_T <T,C> + reg * sum T log T (Danskin)."""
    reg = 0.1 if cost == "cosine" else 1.0
    student, teacher, student_mask, teacher_mask = _padded_batch([3], [4], dim=3, dtype=torch.float64, seed=5)
    student = student.clone().requires_grad_(True)

    def entropic_value(x: torch.Tensor) -> float:
        plans, costs, _, _ = _solve(x, teacher, student_mask, teacher_mask, reg=reg, cost=cost, **TIGHT)
        return float((plans * costs).sum() + reg * torch.special.xlogy(plans, plans).sum())

    plans, costs, _, _ = _solve(student, teacher, student_mask, teacher_mask, reg=reg, cost=cost, **TIGHT)
    (gradient,) = torch.autograd.grad(transport.transport_cost(plans, costs).sum(), student)
    numeric = torch.zeros_like(student)
    step = 1e-6
    for index in np.ndindex(*student.shape):
        bumped = student.detach().clone()
        bumped[index] += step
        up = entropic_value(bumped)
        bumped[index] -= 2 * step
        numeric[index] = (up - entropic_value(bumped)) / (2 * step)
    torch.testing.assert_close(gradient, numeric, atol=1e-6, rtol=1e-5)


def test_solve_is_finite_at_small_reg_and_in_low_precision_inputs():
    student, teacher, student_mask, teacher_mask = _padded_batch([8, 3], [5, 9], dtype=torch.bfloat16, seed=6)
    costs = transport.cost_matrix(student.float(), teacher.float(), "cosine", student_mask, teacher_mask)
    a, b = transport.token_marginals(student_mask), transport.token_marginals(teacher_mask)
    plans = transport.solve_plans(costs.to(torch.bfloat16), a, b, reg=1e-3)
    assert plans.dtype == torch.float32 and torch.isfinite(plans).all()
    torch.testing.assert_close(plans.sum((1, 2)), torch.ones(2), atol=1e-3, rtol=0)


def test_statistics_are_consistent():
    student, teacher, student_mask, teacher_mask = _padded_batch([4, 2], [3, 5], dtype=torch.float64, seed=7)
    plans, costs, a, b = _solve(student, teacher, student_mask, teacher_mask, **TIGHT)
    stats = transport.plan_statistics(plans, costs, a, b)
    assert set(stats) == {"transport_cost", "plan_entropy", "marginal_error", "plan_sharpness"}
    assert stats["marginal_error"].max() < 1e-6
    upper = torch.log(torch.tensor([4 * 3, 2 * 5], dtype=torch.float32))
    assert (stats["plan_entropy"] <= upper + 1e-5).all() and (stats["plan_entropy"] > 0).all()
    assert ((stats["plan_sharpness"] > 1 / 5 - 1e-6) & (stats["plan_sharpness"] <= 1 + 1e-6)).all()
    # Uniform costs give the independent coupling: maximal entropy, sharpness 1/m.
    flat = transport.solve_plans(torch.zeros(1, 4, 3), torch.full((1, 4), 0.25), torch.full((1, 3), 1 / 3))
    flat_stats = transport.plan_statistics(
        flat, torch.zeros(1, 4, 3), torch.full((1, 4), 0.25), torch.full((1, 3), 1 / 3)
    )
    assert flat_stats["plan_entropy"].item() == pytest.approx(np.log(12), abs=1e-5)
    assert flat_stats["plan_sharpness"].item() == pytest.approx(1 / 3, abs=1e-5)


def test_align_one_pair_matches_batched_solver_and_weights():
    student, teacher, student_mask, teacher_mask = _padded_batch([5], [6], dtype=torch.float32, seed=8)
    plan, cost = transport.align(student[0], teacher[0], reg=0.05, reg_scale="absolute")
    plans, costs, _, _ = _solve(student, teacher, student_mask, teacher_mask)
    torch.testing.assert_close(plan, plans[0])
    torch.testing.assert_close(cost, costs[0])
    weights = torch.tensor([4.0, 1.0, 1.0, 1.0, 1.0])
    weighted, _ = transport.align(student[0], teacher[0], student_weights=weights)
    torch.testing.assert_close(weighted.sum(1), weights / weights.sum(), atol=1e-4, rtol=0)


def test_clear_errors_for_bad_input():
    x = torch.randn(1, 3, 4)
    with pytest.raises(ValueError, match="empty"):
        transport.align(torch.randn(0, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="hidden sizes"):
        transport.cost_matrix(x, torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match="unknown cost"):
        transport.cost_matrix(x, x, "manhattan")
    with pytest.raises(ValueError, match="reg"):
        transport.solve_plans(
            torch.zeros(1, 3, 3), torch.full((1, 3), 1 / 3), torch.full((1, 3), 1 / 3), reg=0
        )
    with pytest.raises(ValueError, match="no token mass"):
        transport.solve_plans(torch.zeros(1, 3, 3), torch.zeros(1, 3), torch.full((1, 3), 1 / 3))
    with pytest.raises(ValueError, match="NaN"):
        transport.solve_plans(
            torch.full((1, 3, 3), float("nan")), torch.full((1, 3), 1 / 3), torch.full((1, 3), 1 / 3)
        )
    with pytest.raises(ValueError, match="non-negative"):
        transport.token_marginals(torch.ones(1, 2, dtype=torch.bool), torch.tensor([[1.0, -1.0]]))
    assert transport.token_marginals(torch.zeros(1, 3, dtype=torch.bool)).abs().sum() == 0


def test_idf_weights():
    idf = transport.idf_weights([[0, 1, 1], [1, 2]], vocab_size=4)
    assert idf.shape == (4,)
    assert idf[1] < idf[0] < idf[3]  # 1 is in every document, 3 in none
    with pytest.raises(ValueError, match="out of range"):
        transport.idf_weights([[5]], vocab_size=4)


# ------------------------------------------------------------------------------ Sinkhorn divergence
def _terms(name, student, teacher, student_mask, teacher_mask, **options):
    a = transport.token_marginals(student_mask, dtype=student.dtype)
    b = transport.token_marginals(teacher_mask, dtype=teacher.dtype)
    return transport.ot_term(name, student, teacher, a, b, **{"max_iter": 5000, "tol": 1e-10, **options})


@pytest.mark.parametrize("cost", ["cosine", "sqeuclidean"])
@pytest.mark.parametrize("reg_scale", ["absolute", "spread"])
def test_divergence_of_identical_clouds_is_zero_with_zero_gradient_and_the_plain_value_is_not(
    cost, reg_scale
):
    _, teacher, _, teacher_mask = _padded_batch([5, 3], [6, 4], dtype=torch.float64, seed=11)
    teacher = teacher + 2.0  # anisotropic, like a real encoder's token space: every cosine is high
    reg = 0.5 if reg_scale == "spread" else (0.05 if cost == "cosine" else 1.0)
    student = teacher.clone().requires_grad_(True)
    divergence = _terms("divergence", student, teacher, teacher_mask, teacher_mask, cost=cost, reg=reg,
                        reg_scale=reg_scale)  # fmt: skip
    (gradient,) = torch.autograd.grad(divergence.value.sum(), student)
    assert divergence.value.abs().max() < 1e-8
    assert gradient.abs().max() < 1e-8
    plain = _terms(
        "entropic", student, teacher, teacher_mask, teacher_mask, cost=cost, reg=reg, reg_scale=reg_scale
    )
    (plain_gradient,) = torch.autograd.grad(plain.value.sum(), student)
    assert plain.value.min() > 1e-4  # the biased value: a perfect student still pays
    assert plain_gradient.abs().max() > 1e-5  # and is pushed away from the teacher


@pytest.mark.parametrize("cost", ["cosine", "sqeuclidean"])
def test_divergence_is_nonnegative_on_random_padded_batches(cost):
    for seed in range(5):
        student, teacher, student_mask, teacher_mask = _padded_batch(
            [5, 2, 7, 1], [3, 6, 2, 4], seed=20 + seed
        )
        for reg in (0.02, 0.5, 5.0):
            term = _terms("divergence", student, teacher, student_mask, teacher_mask, cost=cost, reg=reg,
                          reg_scale="spread")  # fmt: skip
            assert (term.value > -1e-7).all(), (seed, reg, term.value)


def test_divergence_ignores_padding_length():
    lengths_s, lengths_t = [4, 2], [5, 3]
    short = _padded_batch(lengths_s, lengths_t, seed=30)
    student, teacher, _, _ = _padded_batch(lengths_s, lengths_t, seed=31, pad_to=9)
    student[:, :4], teacher[:, :5] = short[0], short[1]
    long_masks = (torch.arange(9)[None] < torch.tensor(lengths_s)[:, None],
                  torch.arange(9)[None] < torch.tensor(lengths_t)[:, None])  # fmt: skip
    value_short = _terms("divergence", *short).value
    value_long = _terms("divergence", student, teacher, *long_masks).value
    torch.testing.assert_close(value_long, value_short, atol=1e-9, rtol=0)


def test_divergence_gradient_matches_finite_differences():
    student, teacher, student_mask, teacher_mask = _padded_batch(
        [3], [4], dim=3, dtype=torch.float64, seed=32
    )
    options = {"cost": "sqeuclidean", "reg": 0.5, "reg_scale": "absolute"}

    def value(x: torch.Tensor) -> float:
        return float(_terms("divergence", x, teacher, student_mask, teacher_mask, **options).value.sum())

    student = student.clone().requires_grad_(True)
    term = _terms("divergence", student, teacher, student_mask, teacher_mask, **options)
    (gradient,) = torch.autograd.grad(term.value.sum(), student)
    numeric = torch.zeros_like(student)
    for index in np.ndindex(*student.shape):
        bumped = student.detach().clone()
        bumped[index] += 1e-6
        up = value(bumped)
        bumped[index] -= 2e-6
        numeric[index] = (up - value(bumped)) / 2e-6
    torch.testing.assert_close(gradient, numeric, atol=1e-6, rtol=1e-5)


def test_spread_scale_makes_the_plan_independent_of_cost_offset_and_scale():
    student, teacher, student_mask, teacher_mask = _padded_batch([5, 4], [6, 3], dtype=torch.float64, seed=33)
    costs = transport.cost_matrix(student, teacher, "cosine", student_mask, teacher_mask)
    a, b = (
        transport.token_marginals(student_mask, dtype=costs.dtype),
        transport.token_marginals(teacher_mask, dtype=costs.dtype),
    )
    keep = transport.pair_mask(student_mask, teacher_mask)
    shifted = torch.where(keep, 3.0 * costs + 0.7, torch.zeros_like(costs))

    def plans(c: torch.Tensor, scale: str) -> torch.Tensor:
        eps = transport.pair_reg(c, student_mask, teacher_mask, 0.5, scale)
        return transport.solve_plans(c, a, b, eps, **TIGHT)

    torch.testing.assert_close(plans(shifted, "spread"), plans(costs, "spread"), atol=1e-8, rtol=0)
    assert (plans(shifted, "absolute") - plans(costs, "absolute")).abs().max() > 1e-3
    eps = transport.pair_reg(costs, student_mask, teacher_mask, 0.5, "spread")
    assert eps.shape == (2,) and not torch.allclose(eps[0], eps[1])


def test_per_pair_reg_equals_separate_solves():
    student, teacher, student_mask, teacher_mask = _padded_batch([5, 4], [6, 3], dtype=torch.float64, seed=34)
    costs = transport.cost_matrix(student, teacher, "cosine", student_mask, teacher_mask)
    a, b = (
        transport.token_marginals(student_mask, dtype=costs.dtype),
        transport.token_marginals(teacher_mask, dtype=costs.dtype),
    )
    together = transport.solve_plans(costs, a, b, torch.tensor([0.05, 0.2], dtype=torch.float64), **TIGHT)
    for i, reg in enumerate((0.05, 0.2)):
        alone = transport.solve_plans(costs[i : i + 1], a[i : i + 1], b[i : i + 1], reg, **TIGHT)
        torch.testing.assert_close(together[i : i + 1], alone, atol=1e-10, rtol=0)


def test_annealing_reaches_a_small_reg_within_the_iteration_cap_and_finds_the_same_plan():
    student, teacher, student_mask, teacher_mask = _padded_batch(
        [12, 9], [10, 11], dtype=torch.float64, seed=35
    )
    costs = transport.cost_matrix(student, teacher, "cosine", student_mask, teacher_mask)
    a, b = (
        transport.token_marginals(student_mask, dtype=costs.dtype),
        transport.token_marginals(teacher_mask, dtype=costs.dtype),
    )
    reference = transport.solve_plans(costs, a, b, 0.002, max_iter=50_000, tol=1e-9)
    # at this reg a plain solve needs 1,461 iterations, the annealed one 1,261 (measured; real encoders
    # gain more: docs/loss.md)
    _, plain_info = transport.solve_plans(costs, a, b, 0.002, max_iter=1350, tol=1e-9, return_info=True)
    annealed, info = transport.solve_plans(
        costs, a, b, 0.002, max_iter=1350, tol=1e-9, anneal=6, return_info=True
    )
    assert not plain_info.converged and plain_info.n_iter == 1350
    assert info.converged and info.n_iter <= 1350 and info.marginal_error.max() < 1e-6
    torch.testing.assert_close(annealed, reference, atol=1e-6, rtol=0)


def test_bad_regularisation_is_rejected():
    costs, a = torch.zeros(1, 3, 3), torch.full((1, 3), 1 / 3)
    for reg in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ValueError, match="positive and finite"):
            transport.solve_plans(costs, a, a, reg)
        with pytest.raises(ValueError, match="positive and finite"):
            transport.pair_reg(costs, a > 0, a > 0, reg)
    with pytest.raises(ValueError, match="reg scale"):
        transport.pair_reg(costs, a > 0, a > 0, 0.1, "median")
    with pytest.raises(ValueError, match="unknown OT term"):
        transport.ot_term("wasserstein", costs, costs, a, a)
    with pytest.raises(ValueError, match="anneal"):
        transport.solve_plans(costs, a, a, 0.1, anneal=-1)
