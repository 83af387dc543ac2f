"""The ODE-PINN digital twin (sciml.solvers.ode_pinn) on the diesel engine: the stretch networks' time
derivative, the twin's fit of a short measured transient against the simulator, identification of a
parameter, and bad input."""

import numpy as np
import pytest
import torch

import sciml
from sciml import registry
from sciml.classical import diesel
from sciml.solvers.ode_pinn import StretchNets

SHORT = {"duration": 4.0, "hold": 2.0, "command_seed": 3}
"""A 4 s random transient with one command change: two stretches."""


def test_stretch_nets_time_derivative_and_lookup():
    """dy/dt by forward mode equals central differences, and evaluating at arbitrary times (any order,
    a breakpoint in the later stretch) equals the batched evaluation of each stretch."""
    torch.manual_seed(0)
    nets = StretchNets(np.array([0.0, 1.0, 3.0]), 2, width=8, depth=2, delta=0.05)
    t = torch.tensor([2.5, 0.0, 1.0, 0.3, 2.999, 0.999], dtype=torch.float64)
    y, dy = nets.at(t)
    h = 1e-6
    fd = (nets.at(t + h)[0] - nets.at(t - h)[0]) / (2 * h)
    inside = torch.tensor([True, False, False, True, True, True])   # one-sided at a stretch's start
    assert torch.allclose(dy[inside], fd[inside], rtol=1e-6, atol=1e-8)
    which = torch.tensor([1, 0, 1, 0, 1, 0])
    xi, _ = nets.stretch(which, t)
    for k in (0, 1):
        rows = which == k
        yk, _ = nets(xi[rows][None].expand(2, -1).contiguous())
        assert torch.allclose(y[rows], yk[k], atol=1e-14)
    assert float(nets.stretch(torch.tensor([0]), torch.tensor([0.0], dtype=torch.float64))[0]) == -1.0
    assert float(nets.stretch(torch.tensor([1]), torch.tensor([3.0], dtype=torch.float64))[0]) == pytest.approx(1.0)


def test_twin_follows_a_measured_transient_and_identifies_the_egr_valve_area():
    """A_egrmax from 20 % too high, every other parameter known, over a 4 s transient with one command step:
    the twin's pressures and turbo speed follow the simulator's within 1 % relative L2, its actuator states
    are the exact ones (to the simulator's tolerance), and A_egrmax comes within 2 %. Its 2 s stretches are
    shorter than a default run's 4 s ones: smaller networks, a finer stretching (delta 0.02 s); 500 Adam then
    150 SSBroyden steps. The exhaust's x_r and T_1 solved by fixed point (the default)."""
    result = sciml.run("diesel-engine", "ode-pinn", iterations=500, lbfgs_iterations=150, optimizer="ssbroyden",
                       progress=False, width=32, delta=0.02, n_collocation=200, baseline=False,
                       identify=["A_egrmax"], initial_guess={"A_egrmax": 1.2 * diesel.DEFAULTS["A_egrmax"]}, **SHORT)
    errors = result.errors()["rel_l2_by_output"]
    for name in ("p_im", "p_em", "omega_t"):
        assert errors[name] < 1e-2, (name, errors[name])
    for name in diesel.ACTUATORS:
        assert errors[name] < 1e-7, (name, errors[name])
    assert result.identified["A_egrmax"] == pytest.approx(diesel.DEFAULTS["A_egrmax"], rel=2e-2)


def test_twin_learning_x_r_and_t_1_as_outputs_follows_the_transient_and_the_simulators_values():
    """algebraic: the networks also output the exhaust's implicit x_r and T_1, held to (24) by their own
    residual. On the transient and budget of the test above, the states follow the simulator within 1 %, x_r
    and T_1 within 1 % relative L2 of the simulator's solution of (24), and A_egrmax comes within 2 %."""
    result = sciml.run("diesel-engine", "ode-pinn", iterations=500, lbfgs_iterations=150, optimizer="ssbroyden",
                       progress=False, width=32, delta=0.02, n_collocation=200, baseline=False, algebraic=True,
                       identify=["A_egrmax"], initial_guess={"A_egrmax": 1.2 * diesel.DEFAULTS["A_egrmax"]}, **SHORT)
    errors = result.errors()["rel_l2_by_output"]
    for name in ("p_im", "p_em", "omega_t"):
        assert errors[name] < 1e-2, (name, errors[name])
    problem, t = result.problem, result.solver.t_data
    truth = diesel.outputs(problem._simulate(t.numpy(), problem.initial_state), problem.commands, t.numpy(),
                           problem.model_params)
    with torch.no_grad():
        out, _ = result.model.outputs(t)
    for j, name in enumerate(problem.algebraic_states):
        learned = out[:, len(problem.network_states) + j].numpy()
        assert np.linalg.norm(learned - truth[name]) / np.linalg.norm(truth[name]) < 1e-2, name
    assert result.history[-1]["algebraic"] < 1e-6                 # (24) holds at the collocation points
    assert result.identified["A_egrmax"] == pytest.approx(diesel.DEFAULTS["A_egrmax"], rel=2e-2)


def test_bad_input_is_one_sentence():
    problem = registry.problem("diesel-engine")(**SHORT)
    with pytest.raises(ValueError, match=r"parameter_lr must be a finite number > 0, got 0"):
        registry.solver("ode-pinn")(problem, parameter_lr=0)
    with pytest.raises(ValueError, match=r"needs a lower bound; \['c_vol1'\]"):
        registry.solver("ode-pinn")(problem.identify(["c_vol1"])).build_model()
    with pytest.raises(ValueError, match="cannot solve problem 'lorenz'.*lacks breakpoints"):
        sciml.run("lorenz", "ode-pinn")


TINY = {"iterations": 40, "lbfgs_iterations": 0, "width": 8, "n_collocation": 20, "baseline": False, "progress": False}


def _twin(**settings):
    return sciml.run("diesel-engine", "ode-pinn", identify=["A_egrmax"],
                     initial_guess={"A_egrmax": 1.2 * diesel.DEFAULTS["A_egrmax"]}, **SHORT, **{**TINY, **settings})


def test_multi_stage_start_fits_the_data_with_the_parameters_frozen(tmp_path):
    """With data_steps, the first Adam steps leave the unknowns at their guesses and carry no residual; then
    both join. The network starts from the saved one (init), stretch k from the source's stretch k."""
    source = _twin(out=tmp_path / "a", shared_body=True)
    result = _twin(init=str(tmp_path / "a"), shared_body=True, data_steps=15)
    guess = 1.2 * diesel.DEFAULTS["A_egrmax"]
    early, late = result.history[:15], result.history[15:]
    assert all(r["identified"]["A_egrmax"] == pytest.approx(guess, rel=1e-12) for r in early)
    assert all(r["residual"] == 0.0 for r in early) and all(r["residual"] > 0 for r in late)
    assert late[-1]["identified"]["A_egrmax"] != pytest.approx(guess, rel=1e-6)
    assert source.model.nets.count == result.model.nets.count == 2


def test_few_shot_trains_the_heads_on_the_frozen_body_features(tmp_path):
    """freeze_body keeps the saved body (untrainable, unchanged) and its stored features give the same loss
    as running the whole network."""
    _twin(out=tmp_path / "a", shared_body=True)
    problem = registry.problem("diesel-engine")(**SHORT).identify(["A_egrmax"], {"A_egrmax": 3e-4})
    solver = registry.solver("ode-pinn")(problem, **{**TINY, "shared_body": True, "freeze_body": True,
                                                     "init": str(tmp_path / "a"), "iterations": 5})
    result = solver.train()
    saved = sciml.load(tmp_path / "a").model.nets.body()
    assert all(torch.equal(a, b) and not b.requires_grad for a, b in zip(saved, result.model.nets.body()))
    stored = {k: v.item() for k, v in solver.loss().items()}
    solver.frozen = {}
    assert {k: v.item() for k, v in solver.loss().items()} == pytest.approx(stored, rel=1e-12)


def test_transfer_settings_are_checked(tmp_path):
    problem = registry.problem("diesel-engine")(**SHORT)
    with pytest.raises(ValueError, match="freeze_body keeps a trained body fixed: it needs shared_body=True"):
        registry.solver("ode-pinn")(problem, freeze_body=True)
    with pytest.raises(ValueError, match=r"data_steps must be at most iterations \(10\).*got 20"):
        registry.solver("ode-pinn")(problem, iterations=10, data_steps=20)
    _twin(out=tmp_path / "a", shared_body=True)
    with pytest.raises(ValueError, match=r"differ from this run's \(setting: saved, this run's\): width 8, 16"):
        _twin(init=str(tmp_path / "a"), shared_body=True, width=16)
    with pytest.raises(FileNotFoundError, match="init: no saved result at"):
        _twin(init=str(tmp_path / "b"))
    with pytest.raises(ValueError, match=r"differ from this run's \(setting: saved, this run's\): algebraic False, True"):
        _twin(init=str(tmp_path / "a"), shared_body=True, algebraic=True)
    with pytest.raises(ValueError, match="algebraic must be True or False, got 1"):
        registry.solver("ode-pinn")(problem, algebraic=1)


def test_parameter_errors_are_against_the_values_in_force_in_the_window():
    """On a window after a fault, an identified parameter's error is against its faulty value, the one the
    signals were simulated with (problem.true_params), not the problem's healthy value."""
    result = sciml.run("diesel-engine", "ode-pinn", identify=["A_egrmax"], initial_guess={"A_egrmax": 3e-4},
                       fault="vgt-egr", fault_time=1.0, window_start=2.0, **SHORT, **TINY)
    faulty = 0.8 * diesel.DEFAULTS["A_egrmax"]
    error = result.solver.extra_metrics(result)["rel_error_A_egrmax"]
    assert error == pytest.approx(abs(result.identified["A_egrmax"] - faulty) / faulty, rel=1e-12)


def test_self_adaptive_data_weights_rise_in_the_adam_phase_and_then_stay(tmp_path):
    """self_adaptive: every data weight starts at 1 and gradient ascent raises it during the Adam phase (a
    descent would lower it); the second phase keeps the weights it was handed, and the data term is the
    weighted one."""
    seen = {}

    def watch(trainer, record):
        if trainer.state.phase == "adam":
            seen["adam"] = trainer_solver.adaptive[0].detach().clone()

    problem = registry.problem("diesel-engine")(**SHORT).identify(["A_egrmax"], {"A_egrmax": 3e-4})
    trainer_solver = registry.solver("ode-pinn")(problem, **{**TINY, "self_adaptive": True, "lbfgs_iterations": 5})
    result = trainer_solver.train(callbacks=[watch])
    lam = trainer_solver.adaptive[0].detach()
    assert lam.min() > 1.0 and not lam.requires_grad
    assert torch.equal(lam, seen["adam"])                        # unchanged by the L-BFGS phase
    weights = result.solver.extra_metrics(result)["self_adaptive_weights"]
    assert set(weights) == {"p_im", "p_em", "omega_t", "W_egr"} and weights["p_im"]["max"] == float(lam[:, 0].max())
    data = trainer_solver.loss()["data"].item()
    trainer_solver.adaptive = None
    assert data > trainer_solver.loss()["data"].item()           # the weights > 1 count in the data term
    with pytest.raises(ValueError, match="self_adaptive must be True or False, got 'yes'"):
        registry.solver("ode-pinn")(problem, self_adaptive="yes")
