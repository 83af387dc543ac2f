"""The trainer: exact resume after an interruption, the NaN/divergence guard, schedules, errors."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from sciml import storage
from sciml.problems import Burgers
from sciml.solvers import PINN
from sciml.training import TrainConfig, Trainer, TrainingDiverged

# the Adam + L-BFGS path in float32 (Burgers' PINN default is SSBroyden in float64)
SMALL = dict(width=12, depth=2, n_interior=300, n_boundary=40, iterations=40, lbfgs_iterations=30, lbfgs_chunk=5,
             resample_every=10, checkpoint_every=5, compile=False, progress=False, device="cpu", optimizer="adam-lbfgs",
             dtype="float32")


def _losses(history):
    return [(h["phase"], h["step"], h["loss"]) for h in history]


def _interrupt_at(phase, step):
    def callback(trainer, record):
        if record["phase"] == phase and record["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
    return callback


@pytest.mark.parametrize("phase,step", [("adam", 23), ("lbfgs", 10)])
@pytest.mark.parametrize("enforce", ["hard", "soft"])
def test_interrupted_and_resumed_run_reproduces_the_uninterrupted_history(tmp_path, phase, step, enforce):
    settings = SMALL
    full = PINN(Burgers(enforce=enforce), **settings).train(out=tmp_path / "full")
    assert not full.interrupted

    first = PINN(Burgers(enforce=enforce), **settings).train(out=tmp_path / "cut", callbacks=[_interrupt_at(phase, step)])
    assert first.interrupted
    assert (tmp_path / "cut" / "checkpoint.pt").is_file()
    assert len(first.history) < len(full.history)

    resumed = PINN(Burgers(enforce=enforce), **settings).train(out=tmp_path / "cut", resume=True)
    assert not resumed.interrupted
    assert _losses(resumed.history) == _losses(full.history)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))


def _toy_trainer(tmp_path, bad_step, bad_value):
    model = _Toy()
    calls = {"n": 0}

    def loss_fn():
        calls["n"] += 1
        loss = (model.w ** 2).sum()
        if calls["n"] == bad_step + 1:
            loss = loss * bad_value
        return {"quadratic": loss}

    config = TrainConfig(iterations=20, lr=0.05, checkpoint_every=5, progress=False)
    return model, Trainer(model, loss_fn, config, checkpoint=tmp_path / "ck.pt")


@pytest.mark.parametrize("bad_value,reason", [(float("nan"), "is not finite"), (1e12, "exceeds")])
def test_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path, bad_value, reason):
    model, trainer = _toy_trainer(tmp_path, bad_step=7, bad_value=bad_value)
    with pytest.raises(TrainingDiverged, match=f"{reason}.*adam step 7.*step 5\\) is restored"):
        trainer.run()
    saved = storage.read(tmp_path / "ck.pt", "checkpoint")
    assert saved["state"]["step"] == 5
    assert torch.equal(model.w.detach(), saved["module"]["w"])
    assert torch.isfinite(model.w).all()


def test_exponential_schedule():
    model = _Toy()
    config = TrainConfig(iterations=30, lr=1e-2, decay_rate=0.5, decay_steps=10, progress=False)
    trainer = Trainer(model, lambda: {"q": (model.w ** 2).sum()}, config)
    state = trainer.run()
    lrs = [h["lr"] for h in state.history]
    # recorded after each step: the rate for the next step, lr * 0.5 ** (k / 10)
    assert lrs[9] == pytest.approx(1e-2 * 0.5, rel=1e-12)
    assert lrs[19] == pytest.approx(1e-2 * 0.25, rel=1e-12)


def test_lbfgs_converges_on_a_quadratic():
    model = _Toy()
    target = torch.tensor([3.0, 4.0])
    config = TrainConfig(iterations=0, lbfgs_iterations=20, progress=False)
    state = Trainer(model, lambda: {"q": ((model.w - target) ** 2).sum()}, config).run()
    assert torch.allclose(model.w.detach(), target, atol=1e-6)
    assert state.phase == "done"


def test_lbfgs_line_search_backs_off_a_step_where_the_loss_is_not_finite():
    # A smoothed |w - 1.9|, undefined (NaN) past w = 2. From far away it looks linear, so the strong-Wolfe
    # search extrapolates by up to tenfold steps and lands past 2; torch's own search then keeps
    # extrapolating on NaN, to |w| ~ 1e45. The trainer must shorten the step instead and reach 1.9.
    model = _Toy().double()
    with torch.no_grad():
        model.w.copy_(torch.tensor([-100.0, 0.0]))

    def loss_fn():
        w = model.w[0]
        return {"fit": torch.sqrt((w - 1.9) ** 2 + 1e-4) + 0.0 * torch.sqrt(2.0 - w) + model.w[1] ** 2}

    config = TrainConfig(iterations=0, lbfgs_iterations=200, checkpoint_every=0, progress=False)
    state = Trainer(model, loss_fn, config).run()
    assert state.phase == "done"
    assert model.w[0].item() == pytest.approx(1.9, abs=1e-6)
    assert state.history[-1]["loss"] == pytest.approx(1e-2, rel=1e-9)


@pytest.mark.parametrize("kwargs,message", [
    (dict(iterations=-1), "iterations must be a non-negative integer, got -1"),
    (dict(iterations=0, lbfgs_iterations=0), "iterations must be positive"),
    (dict(lr=0.0), "learning rate must be positive"),
    (dict(schedule="linear"), "schedule must be"),
])
def test_bad_config_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_residual_based_refinement_adds_the_worst_points():
    solver = PINN(Burgers(), width=12, depth=2, n_interior=300, iterations=11, lbfgs_iterations=0, rar_every=10,
                  rar_points=40, rar_candidates=2000, compile=False, progress=False, device="cpu")
    solver.train()
    points = solver.interior_with_rar().x
    assert points.shape == (340, 2)
    added, sampled = points[300:], points[:300]
    r_added = solver.residuals(added)["residual"].abs()
    r_sampled = solver.residuals(sampled)["residual"].abs()
    # the 40 added were the worst 2% of 2000 candidates one Adam step ago: still above the 90th
    # percentile of the uniformly sampled points
    assert r_added.min() > torch.quantile(r_sampled, 0.9)


def test_lbfgs_phase_ends_once_lbfgs_has_converged():
    # Least squares A w ~ b: L-BFGS reaches the optimum in a few iterations, then can only stop on its
    # own tolerances. The phase must end there (one history entry at the optimum), not repeat
    # one-iteration chunks at the same point until the 5,000-iteration budget is spent.
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 3, generator=gen, dtype=torch.float64), torch.randn(40, generator=gen, dtype=torch.float64)
    model = torch.nn.Linear(3, 1, bias=False).double()

    def loss_fn():
        return {"fit": ((model(a).squeeze(1) - b) ** 2).mean()}

    config = TrainConfig(iterations=1, lbfgs_iterations=5000, lbfgs_chunk=50, checkpoint_every=0, progress=False)
    state = Trainer(model, loss_fn, config).run()
    lbfgs = [h for h in state.history if h["phase"] == "lbfgs"]
    assert state.phase == "done"
    assert lbfgs[-1]["step"] < 100, [h["step"] for h in lbfgs]
    optimum = torch.linalg.lstsq(a, b.unsqueeze(1)).solution.squeeze(1)
    best = ((a @ optimum - b) ** 2).mean().item()
    assert lbfgs[-1]["loss"] == pytest.approx(best, rel=1e-12)
    assert sum(h["loss"] == lbfgs[-1]["loss"] for h in lbfgs) <= 2
