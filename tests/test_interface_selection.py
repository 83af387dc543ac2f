"""The interface-condition bandit (METALIC): it learns which choice is best as a function of the PDE
parameter from observed errors, explores by UCB, and the two-stage variant chooses per phase."""

from __future__ import annotations

import math

import pytest

from sciml.solvers.interface_selection import ARMS, Family, InterfaceBandit, evaluate, label, meta_train

FAMILY = Family("poisson", "frequency", train=(1.0, 2.0, 3.0, 4.0), test=(1.5, 2.5, 3.5))


def synthetic(value, choice):
    """A made-up error landscape with a switch: below k = 2.2 solution+gradient is best, above it
    average+residual+flux; flux helps everywhere, no condition set is bad by a factor under 3."""
    conditions = set(choice[0])
    base = 1e-3 * value
    if value < 2.2:
        factor = 1.0 if conditions == {"solution", "gradient"} else 3.0
    else:
        factor = 1.0 if conditions == {"average", "residual", "flux"} else 4.0
    if len(choice) > 1 and "gradient" not in choice[1]:
        factor *= 2.0  # the two-stage landscape: gradient continuity in the L-BFGS phase halves the error
    return base * factor * (0.8 if "flux" in conditions else 1.0)


def test_bandit_learns_the_best_conditions_on_held_out_parameters():
    bandit = InterfaceBandit(ARMS, kappa=1.0, seed=0)
    meta_train(FAMILY, bandit, rounds=24, trial=synthetic)
    rows = evaluate(FAMILY, bandit, trial=synthetic)
    assert [r["chosen"] for r in rows] == ["solution+gradient", "average+residual+flux", "average+residual+flux"]
    assert all(r["ratio"] == 1.0 for r in rows)


def test_ucb_explores_an_uncertain_choice_over_a_known_mediocre_one():
    bandit = InterfaceBandit([("solution",), ("solution", "flux")], kappa=3.0, seed=0)
    ctx = FAMILY.context(2.0)
    for _ in range(3):
        bandit.observe(ctx, (("solution",),), 1e-2)
    mean, std = bandit.predict(ctx)
    assert std[1] > std[0]
    assert bandit.choose(ctx) == (("solution", "flux"),)  # never tried: explored
    bandit.observe(ctx, (("solution", "flux"),), 1e-4)
    assert bandit.choose(ctx, explore=False) == (("solution", "flux"),)


def test_two_stage_bandit_chooses_the_lbfgs_conditions_separately():
    bandit = InterfaceBandit([("solution",), ("solution", "gradient"), ("average", "residual", "flux")],
                             two_stage=True, kappa=1.0, seed=1)
    assert len(bandit.choices) == 9
    meta_train(FAMILY, bandit, rounds=30, trial=synthetic)
    rows = evaluate(FAMILY, bandit, trial=synthetic)
    for row in rows:
        assert row["ratio"] == 1.0, row
        assert "gradient" in row["chosen"].split(" / ")[1]
    assert label((("solution", "flux"), ("gradient",))) == "solution+flux / gradient"


def test_context_scaling_and_errors():
    burgers = Family("burgers", "nu", train=(0.01, 0.04), test=(0.02,), scale="log")
    assert burgers.context(0.02)[0] == pytest.approx(0.5)
    assert FAMILY.context(2.5)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="scale"):
        Family("poisson", "frequency", (1.0, 2.0), (1.5,), scale="cubic")
    with pytest.raises(ValueError, match="positive and finite"):
        InterfaceBandit().observe(FAMILY.context(1.0), (("solution",),), math.nan)
    with pytest.raises(ValueError, match="interface conditions"):
        InterfaceBandit([("solution",), ("jump",)])


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    """scikit-learn is an optional extra: without it the bandit says which extra installs it."""
    import sys

    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` raise ImportError
    bandit = InterfaceBandit(arms=ARMS[:2])
    with pytest.raises(ImportError, match=r'sciml\[selection\]'):
        bandit.observe([1.0], bandit.choices[0], 1e-2)
