"""The diesel engine mean-value model (sciml.classical.diesel) and the diesel-engine problem: the published
VGT step responses (Wahlström & Eriksson 2011, Figs 11-12, as restated with an independent implementation's
numbers in ../shared/reference/diesel-mvem/README.md), the exact 6-state reduction, the transcribed
parameter set and the input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.classical import diesel
from sciml.problems.diesel import DieselActuators, DieselEngine

ROOT = Path(__file__).resolve().parents[1]
OPERATING_POINT = {"u_delta": 110.0, "u_egr": 80.0, "n_e": 1500.0}
"""The README's operating point of the two VGT steps."""
STEPS = {
    # VGT command before -> after: README's steady state before the step (p_im [Pa], p_em [Pa], n_t [rpm],
    # W_egr [kg/s], T_em [K]) and compressor flow W_c [kg/s] before, at its extreme and settled
    (75.0, 65.0): {"before": (149.6e3, 153.6e3, 59780.0, 0.0139, 730.0), "W_c": (0.2445, 0.2396, 0.2486)},
    (30.0, 25.0): {"before": (185.0e3, 212.4e3, 68290.0, 0.0819, 691.0), "W_c": (0.2345, 0.2176, 0.2202)},
}


def _vgt_step(before: float, after: float):
    commands = diesel.Commands.step({**OPERATING_POINT, "u_vgt": before}, "u_vgt", after, at=1.0)
    t = np.linspace(0.0, 20.0, 2001)
    x = diesel.simulate(commands, t)
    return t, x, diesel.outputs(x, commands, t)


@pytest.mark.parametrize("vgt", list(STEPS))
def test_steady_state_before_the_vgt_step_matches_the_reference_implementation(vgt):
    _, x, out = _vgt_step(*vgt)
    got = (x[0, 0], x[0, 1], out["n_t"][0], out["W_egr"][0], out["T_em"][0])
    np.testing.assert_allclose(got, STEPS[vgt]["before"], rtol=5e-3)


def test_vgt_step_75_to_65_is_non_minimum_phase():
    """W_c first dips, then settles higher than before (negative DC gain)."""
    t, _, out = _vgt_step(75.0, 65.0)
    w = out["W_c"]
    start, low, settled = STEPS[(75.0, 65.0)]["W_c"]
    assert w[0] == pytest.approx(start, rel=2e-2) and w[-1] == pytest.approx(settled, rel=2e-2)
    assert w.min() == pytest.approx(low, rel=2e-2)
    assert w.min() < w[0] - 3e-3 < w[-1] - 6e-3          # dip below the start, settle well above it
    assert 1.0 < t[np.argmin(w)] < 2.0 < t[np.argmax(w)]    # the dip comes right after the step, the rise after


def test_vgt_step_30_to_25_undershoots_and_settles_lower():
    """W_c undershoots and settles lower than before: the DC gain has changed sign."""
    t, _, out = _vgt_step(30.0, 25.0)
    w = out["W_c"]
    start, low, settled = STEPS[(30.0, 25.0)]["W_c"]
    assert w[0] == pytest.approx(start, rel=2e-2) and w[-1] == pytest.approx(settled, rel=2e-2)
    assert w.min() == pytest.approx(low, rel=2e-2)
    assert w.min() < w[-1] - 1e-3 < w[0] - 1e-2         # below the settled value, which is below the start
    assert np.all(w[t < 1.0] == pytest.approx(w[0], rel=1e-6))  # nothing moves before the step


def test_six_state_reduction_equals_the_full_model():
    commands = diesel.Commands.random(seed=3, duration=20.0)
    t = np.linspace(0.0, 20.0, 201)
    full = diesel.simulate(commands, t)
    reduced = diesel.simulate(commands, t, reduced=True)
    keep = [diesel.STATES.index(n) for n in ("p_im", "p_em", "omega_t")]
    np.testing.assert_allclose(reduced[:, [0, 1, 2]], full[:, keep], rtol=1e-6)
    assert np.ptp(full[:, 0]) > 0.3 * full[:, 0].mean()      # a transient that moves the pressures


def test_actuator_delays_and_first_order_responses():
    """The VGT actuator starts tau_dvgt after its command's step and then follows exp(-t / tau_vgt) exactly."""
    p = diesel.DEFAULTS
    commands = diesel.Commands.step({**OPERATING_POINT, "u_vgt": 60.0}, "u_vgt", 40.0, at=0.5)
    t = np.array([0.0, 0.5, 0.5 + p["tau_dvgt"], 0.6, 0.7])
    x = diesel.simulate(commands, t)
    vgt = x[:, diesel.STATES.index("ut_vgt")]
    exact = 40.0 + 20.0 * np.exp(-np.clip(t - 0.5 - p["tau_dvgt"], 0.0, None) / p["tau_vgt"])
    np.testing.assert_allclose(vgt, exact, rtol=1e-6)


def test_exact_actuator_response_equals_the_simulated_one():
    """diesel-actuators' exact solution against the engine simulation's actuator states, same commands."""
    problem = DieselActuators()
    commands = problem.held_out()[:3]
    t = np.linspace(0.0, problem.duration, problem.n_times)
    exact = problem.solution(commands, t)
    for row, want in zip(commands, exact):
        simulated = diesel.simulate(problem.commands(row), t)[:, 5:]
        np.testing.assert_allclose(simulated, want, atol=1e-4)            # [%], LSODA at rtol 1e-8
    assert np.ptp(exact[..., 2]) > 30.0                                   # the commands move the VGT


def test_operator_windows_give_the_engine_actuators_exactly():
    """Fed the exact operator, the windows that diesel-engine's twin builds for a trained actuator operator
    give the actuator states of the engine's 60 s random transient (every change on the operator's grid); a
    window off the grid by a fraction of a hold would be off by up to the step."""
    engine, actuators = DieselEngine(), DieselActuators()
    when = np.linspace(0.0, 60.0, 1201) + 1e-3
    points = actuators.operator_points(engine.commands, when)
    assert points[:, 0].min() > 0.0 and points[:, 0].max() <= actuators.duration
    got = np.array([actuators.solution(p[None, 1:], p[:1])[0, 0] for p in points])
    want = diesel.actuators(engine.commands, when, engine.model_params)
    assert np.ptp(want[:, 2]) > 20.0                                     # the transient moves the VGT
    np.testing.assert_allclose(got, want, atol=1e-3)                      # [%]; measured 1.6e-4
    shifted = points.copy()
    shifted[:, 0] -= 0.1                                                  # the same windows read 0.1 s early
    early = np.array([actuators.solution(p[None, 1:], p[:1])[0, 0] for p in shifted])
    assert np.abs(early - want).max() > 1.0


def test_operator_windows_refuse_commands_that_change_too_often():
    commands = diesel.Commands([0.0, 1.0, 1.5], [[110.0, 50.0, 60.0, 1500.0]] * 3, source="these commands")
    with pytest.raises(ValueError, match=r"these commands change at t = 1 s and 1.5 s, less than the actuator "
                                         r"operator's window of 2 s apart"):
        DieselActuators().operator_points(commands, [2.0])


def test_actuator_problem_reference_and_sampling():
    problem = DieselActuators(duration=1.0, hold=0.25)
    assert problem.inputs == ("t", "u_egr_1", "u_egr_2", "u_egr_3", "u_egr_4", "u_vgt_1", "u_vgt_2", "u_vgt_3",
                              "u_vgt_4")
    ref = problem.reference()
    assert ref.points.shape == (100 * 201, 9) and ref.values.shape == (100 * 201, 3)
    first = ref.points[0]
    np.testing.assert_allclose(ref.values[0], [first[1], first[1], first[5]])   # steady at t = 0
    drawn = problem.sample_inputs(500, torch.Generator().manual_seed(1)).numpy()
    assert drawn[:, :4].min() >= 0.0 and drawn[:, :4].max() <= 100.0 and drawn[:, 4:].min() >= 20.0
    assert drawn[:, 4:].min() < 22.0 and drawn[:, 4:].max() > 98.0              # the whole range is covered


def test_torch_vector_field_equals_the_simulator():
    problem = DieselEngine(duration=8.0)
    ref = problem.reference()
    t, x = ref.points[:, 0], ref.values
    got = problem.rhs(torch.as_tensor(t), torch.as_tensor(x)).numpy()
    field = diesel._field(diesel.DEFAULTS, problem.commands, reduced=False)
    want = np.array([field(ti, xi) for ti, xi in zip(t, x)])
    assert np.max(np.abs(got - want) / np.abs(want).max(axis=0)) < 1e-10
    assert ref.points.shape == (81, 9) and np.all(ref.points[:, 1:] == problem.initial_state)


def test_given_exhaust_unknowns_give_the_residual_of_their_equation():
    """signals() with x_r and T_1 given: at the fixed point's solution every signal is the fixed point's
    and one pass of (24) returns the given values (a zero residual, to the fixed point's own tolerance);
    off the solution it does not, and T_e moves with the given T_1."""
    problem = DieselEngine(duration=8.0)
    x = problem.reference().values
    u = problem.commands(problem.reference().points[:, 0])
    col = lambda name: x[:, diesel.STATES.index(name)]
    args = (diesel.DEFAULTS, col("p_im"), col("p_em"), col("omega_t"), col("ut_egr1"), col("ut_egr2"),
            col("ut_vgt"), u[:, 0], u[:, 3])
    solved = diesel.signals(*args)
    given = diesel.signals(*args, exhaust=(solved["x_r"], solved["T_1"]))
    for name in ("x_r", "T_1", "T_e", "T_em", "W_egr", "W_t", "P_t"):
        assert np.max(np.abs(given[name] / solved[name] - 1.0)) < 1e-10, name   # the fixed point stops at 1e-11
    off = diesel.signals(*args, exhaust=(solved["x_r"], solved["T_1"] + 10.0))
    assert np.min(np.abs(off["T_1"] - solved["T_1"] - 10.0)) > 5.0      # a residual of most of the shift
    assert np.all(off["T_e"] > solved["T_e"])


def test_least_squares_identifies_the_drifting_parameters():
    """The classical baseline recovers eta_sc, h_tot, A_egrmax, A_vgtmax from p_im, p_em, omega_t, W_egr at
    10 Hz over a short random transient, from a guess 20 % off, on clean data."""
    commands = diesel.Commands.random(seed=7, duration=8.0, hold=2.0)
    t = np.arange(0.0, 8.0 + 1e-9, 0.1)
    truth = {name: diesel.DEFAULTS[name] for name in diesel.IDENTIFIED}
    guess = {name: value * factor for (name, value), factor in zip(truth.items(), (1.2, 0.8, 1.2, 0.8))}
    fit = diesel.identify_least_squares(commands, t, diesel.measure(commands, t), guess)
    for name, value in truth.items():
        assert fit["values"][name] == pytest.approx(value, rel=1e-6), name
    with pytest.raises(ValueError, match=r"initial guesses must be finite and > 0 .*\{'h_tot': -1.0\}"):
        diesel.identify_least_squares(commands, t, np.zeros((len(t), 4)), {"h_tot": -1.0})


def test_parameters_are_the_released_set():
    """Every value equals parameters.json of the shared reference (where that folder is present)."""
    found = [d / "shared/reference/diesel-mvem/parameters.json" for d in (ROOT.parent, ROOT.parent.parent)]
    found = [f for f in found if f.is_file()]
    if not found:
        pytest.skip("../shared/reference/diesel-mvem/parameters.json not present")
    released = json.loads(found[0].read_text())["parameters"]
    vectors = {"c_vol": "c_volVec", "c_egr": "c_egr", "c_m": "c_mVec", "c_wpsi": "c_wpsiVec", "c_wphi": "c_wphiVec"}
    for name, (value, _, _) in diesel.PARAMETERS.items():
        stem, index = name.rstrip("123"), name[-1]
        if name.startswith("Q_c"):
            want = released["Q_c"][int(name[-2]) - 1][int(name[-1]) - 1]
        elif stem in vectors and index in "123":
            want = released[vectors[stem]][int(index) - 1]
        else:
            want = released[name]
        assert value == want, name


# ----------------------------------------------------------------------------------------------
# bad input: one sentence naming the value
# ----------------------------------------------------------------------------------------------
def test_command_outside_its_range_is_refused():
    with pytest.raises(ValueError, match=r"u_vgt must be >= 20.0 .*got 10.0"):
        DieselEngine(u_vgt=10.0)
    with pytest.raises(ValueError, match=r"u_egr = 120 % at t = 1 s is outside its physical range \[0, 100\] %"):
        DieselEngine(scenario="step", step_input="u_egr", step_value=120.0)
    with pytest.raises(ValueError, match=r"n_e = 2500 rpm at t = 0 s is outside"):
        diesel.Commands([0.0], [[100.0, 50.0, 50.0, 2500.0]])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_commands(tmp_path):
    good = _write(tmp_path / "good.csv", "t,n_e,u_delta,u_egr,u_vgt\n0,1500,110,80,75\n2,1500,110,80,65\n")
    problem = DieselEngine(scenario="csv", csv=str(good))
    assert problem.duration == 2.0
    np.testing.assert_allclose(problem.commands(1.0), [110.0, 80.0, 70.0, 1500.0])   # linear between rows
    missing = _write(tmp_path / "missing.csv", "t,u_delta,u_egr,n_e\n0,110,80,1500\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['u_vgt'\]"):
        DieselEngine(scenario="csv", csv=str(missing))
    backwards = _write(tmp_path / "back.csv", "t,u_delta,u_egr,u_vgt,n_e\n0,110,80,75,1500\n2,110,80,75,1500\n"
                                              "1,110,80,75,1500\n")
    with pytest.raises(ValueError, match=r"times must increase, but t = 1 s \(row 3\) follows t = 2 s"):
        DieselEngine(scenario="csv", csv=str(backwards))
    outside = _write(tmp_path / "out.csv", "t,u_delta,u_egr,u_vgt,n_e\n0,110,80,75,1500\n1,300,80,75,1500\n")
    with pytest.raises(ValueError, match=r"u_delta = 300 mg/cycle at t = 1 s is outside"):
        DieselEngine(scenario="csv", csv=str(outside))
    with pytest.raises(ValueError, match="the csv scenario needs a commands file"):
        DieselEngine(scenario="csv")


def test_cli_help_shows_every_parameter(capsys):
    from sciml.cli import main

    with pytest.raises(SystemExit):
        main(["run", "diesel-engine", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, spec in DieselEngine.parameters.items():
        assert f"--{name.replace('_', '-')}" in text, name
    assert "maximum effective area of the EGR valve [unit: m^2] (default: 0.0004)" in text
    assert "VGT position command (constant/step scenarios) [unit: %] (default: 75.0)" in text


def test_noise_flag_is_the_engines_sensor_noise():
    """Issue 15's command, ``sciml run diesel-engine --identify ... --noise 0.01``: the engine measures its own
    signals, so --noise sets its relative sensor noise rather than noise on samples of a reference."""
    from sciml.cli import parse_run

    args, params, _ = parse_run(["diesel-engine", "--identify", "A_egrmax", "--noise", "0.01"])
    assert params["sensor_noise"] == 0.01 and args.inverse == {"identify": ["A_egrmax"]}
    assert DieselEngine(**params).sensor_noise == 0.01
    assert parse_run(["diesel-engine", "--noise", "0.02", "--sensor-noise", "0.02"])[1]["sensor_noise"] == 0.02
    with pytest.raises(ValueError, match="--noise 0.01 and --sensor-noise 0.02 disagree"):
        parse_run(["diesel-engine", "--noise", "0.01", "--sensor-noise", "0.02"])
    # a problem without sensor noise of its own keeps --noise for its sampled observations
    assert parse_run(["burgers", "--samples", "10", "--noise", "0.01"])[0].inverse == {"samples": 10, "noise": 0.01}


# ----------------------------------------------------------------------------------------------
# health monitoring: the fault scenario and time windows of a longer run
# ----------------------------------------------------------------------------------------------
def _broken(params: dict) -> dict:
    """``params`` with issue 15's fault: A_vgtmax 10 % and A_egrmax 20 % lower."""
    return {**params, "A_vgtmax": 0.9 * params["A_vgtmax"], "A_egrmax": 0.8 * params["A_egrmax"]}


def test_fault_changes_the_engine_from_its_time_on():
    """Before the fault time the measurements are the healthy engine's, bit for bit; after it, those of a run
    restarted at the fault time from the healthy state with the faulty areas."""
    healthy = DieselEngine(duration=8.0, hold=2.0)
    faulty = DieselEngine(duration=8.0, hold=2.0, fault="vgt-egr", fault_time=5.0)   # 5 s: between two commands
    t, got, _ = faulty.measurements()
    _, clean, _ = healthy.measurements()
    before, after = t < 5.0, t >= 5.0
    assert np.array_equal(got[before], clean[before])
    ref = healthy.reference()
    at_fault = ref.values[ref.points[:, 0] == 5.0][0]
    broken = _broken(healthy.model_params)
    x = diesel.simulate(healthy.commands, t[after], broken, x0=at_fault)
    np.testing.assert_allclose(got[after], diesel.measured_signals(x, healthy.commands, t[after], broken), rtol=1e-9)
    assert np.max(np.abs(got[after, :3] / clean[after, :3] - 1.0)) > 0.05   # the fault shows (pressures, speed)
    times = torch.tensor([4.9, 5.0, 7.0], dtype=torch.float64)
    states = torch.as_tensor(ref.values[-3:])
    want = torch.cat([healthy.rhs(times[:1], states[:1]), healthy.rhs(times[1:], states[1:], params=broken)])
    assert torch.equal(faulty.rhs(times, states), want)


def test_true_params_are_those_at_the_end_of_the_window():
    fault = {"fault": "vgt-egr", "fault_time": 5.0, "hold": 2.0}
    healthy = DieselEngine(duration=4.0, **fault).true_params()
    assert healthy == DieselEngine().model_params
    assert DieselEngine(window_start=6.0, duration=2.0, **fault).true_params() == _broken(healthy)
    assert DieselEngine(duration=8.0, **fault).true_params() == _broken(healthy)        # the window holds the fault
    assert DieselEngine(duration=8.0, hold=2.0).true_params() == healthy                # no fault


def test_window_is_the_full_run_seen_from_its_start():
    W, D = 4.5, 3.0
    full = DieselEngine(duration=W + D, hold=2.0)
    window = DieselEngine(window_start=W, duration=D, hold=2.0)
    short = diesel.Commands.random(0, D, 2.0)                     # a longer draw has the shorter as its prefix
    np.testing.assert_array_equal(full.commands.values[:len(short.times)], short.values)
    np.testing.assert_array_equal(window.commands.values, full.commands.values)
    assert full.at_rest and not window.at_rest
    ref, whole = window.reference(), full.reference()
    k = int(round(W * full.sample_rate))
    np.testing.assert_allclose(ref.points[:, 0] + W, whole.points[k:, 0], rtol=1e-12)
    np.testing.assert_allclose(ref.values, whole.values[k:], rtol=1e-6)
    assert np.all(ref.points[:, 1:] == window.initial_state)
    t, values, _ = window.measurements()
    t_full, values_full, _ = full.measurements()
    np.testing.assert_allclose(t + W, t_full[k:], rtol=1e-12)
    np.testing.assert_allclose(values, values_full[k:], rtol=1e-6)
    cuts = full.breakpoints() - W
    np.testing.assert_allclose(window.breakpoints(), cuts[(cuts > 0) & (cuts < D)])
    assert len(window.breakpoints()) == 1
    times = torch.as_tensor(ref.points[:, 0])
    shifted = window.known(times), full.known(times + W)
    for name in shifted[0]:
        np.testing.assert_allclose(shifted[0][name], shifted[1][name], rtol=1e-12, err_msg=name)
    states = torch.as_tensor(ref.values)
    torch.testing.assert_close(window.rhs(times, states), full.rhs(times + W, states), rtol=1e-12, atol=0.0)
    step = DieselEngine(scenario="step", step_time=5.0, window_start=4.0, duration=2.0)
    np.testing.assert_array_equal(step.breakpoints(), [1.0])


def test_least_squares_on_a_window_after_the_fault():
    """Clean data of a window that starts after the fault, a guess 10 % off on A_egrmax, the others known:
    the fit starts from the window's initial state and recovers the faulty A_egrmax."""
    problem = DieselEngine(window_start=4.5, duration=3.0, hold=2.0, fault="vgt-egr", fault_time=2.0)
    truth = problem.true_params()["A_egrmax"]
    fit = problem.least_squares({"A_egrmax": 1.1 * truth})
    assert fit["values"]["A_egrmax"] == pytest.approx(truth, rel=1e-4)
    assert fit["rel_error"]["A_egrmax"] < 1e-4 and truth == pytest.approx(0.8 * problem.params["A_egrmax"])


def test_window_and_fault_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"fault_time must be >= 0.0 .*got -1.0"):
        DieselEngine(fault="vgt-egr", fault_time=-1.0)
    with pytest.raises(ValueError, match=r"window_start must be >= 0.0 .*got -2.0"):
        DieselEngine(window_start=-2.0)
    with pytest.raises(ValueError, match=r"fault must be one of \['none', 'vgt-egr'\], got 'egr'"):
        DieselEngine(fault="egr")
    commands = _write(tmp_path / "c.csv", "t,u_delta,u_egr,u_vgt,n_e\n0,110,80,75,1500\n2,110,80,65,1500\n")
    assert DieselEngine(scenario="csv", csv=str(commands), window_start=0.5).duration == 1.5
    with pytest.raises(ValueError, match=r"window_start = 2 s is not before the last time 2 s of commands file"):
        DieselEngine(scenario="csv", csv=str(commands), window_start=2.0)
