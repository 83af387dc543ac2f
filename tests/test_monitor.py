"""Health monitoring with the twin (sciml.solvers.monitor): windows of a run with a fault, each identified by
a few-shot ensemble from an offline twin; the bookkeeping (windows, truth, drift, flags, coverage), the model
that answers each window's times with its twin, save/load, and bad input. Its accuracy is the validation
cases' (diesel-monitor-fault, diesel-monitor-healthy)."""

import json
import math

import numpy as np
import pytest
import torch

import sciml
from sciml import registry
from sciml.classical import diesel

RUN = {"hold": 2.0, "command_seed": 3}
TINY = {"width": 8, "n_collocation": 20, "progress": False}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny shared-body twin of another 4 s transient, the body every window keeps."""
    out = tmp_path_factory.mktemp("source")
    sciml.run("diesel-engine", "ode-pinn", out=out, duration=4.0, hold=2.0, command_seed=5, shared_body=True,
              iterations=30, lbfgs_iterations=0, baseline=False, **TINY)
    return out


def test_windows_truth_drift_flags_and_the_model(source, tmp_path):
    """Four 2 s windows of an 8 s run with the VGT/EGR fault at 4 s: each window's true values are those in
    force (faulty from the third on), its interval is Student's over the members, drift and flags follow from
    the first window's baseline, coverage counts the intervals that hold the truth; the model answers each
    window's times with that window's twin, and save/load keeps it."""
    guess = {"A_egrmax": 1.1 * diesel.DEFAULTS["A_egrmax"]}
    result = sciml.run("diesel-engine", "twin-monitor", out=tmp_path, duration=8.0, fault="vgt-egr",
                       fault_time=4.0, sensor_noise=0.01, init=str(source), window=2.0, members=2,
                       reference_windows=1, iterations=20, lbfgs_iterations=10, identify=list(guess),
                       initial_guess=guess, progress=False, **RUN)
    windows = json.loads((tmp_path / "windows.json").read_text())
    metrics = json.loads((tmp_path / "metrics.json").read_text())["extra_metrics"]
    assert [w["start"] for w in windows] == [0.0, 2.0, 4.0, 6.0] and not any(w["mixed"] for w in windows)
    healthy = diesel.DEFAULTS["A_egrmax"]
    assert [w["true"]["A_egrmax"] for w in windows] == pytest.approx([healthy, healthy, 0.8 * healthy, 0.8 * healthy])
    from scipy.stats import t as student
    values = np.array(windows[1]["members"])[:, 0]
    assert windows[1]["mean"]["A_egrmax"] == pytest.approx(values.mean())
    assert windows[1]["half_width"]["A_egrmax"] == pytest.approx(student.ppf(0.975, 1) * values.std(ddof=1))
    base = metrics["windows"][0]
    for w in metrics["windows"][1:]:
        drift = w["mean"]["A_egrmax"] / base["mean"]["A_egrmax"] - 1
        half = math.hypot(w["half_width"]["A_egrmax"], base["half_width"]["A_egrmax"]) / base["mean"]["A_egrmax"]
        assert w["drift"]["A_egrmax"] == pytest.approx(drift) and w["flagged"]["A_egrmax"] == (abs(drift) > half)
    monitor = result.solver
    assert [w["dropped"] for w in windows] == [[int((~monitor.keep(k, m, 8)).sum()) for m in range(2)] for k in range(4)]
    held = [abs(w["mean"]["A_egrmax"] - w["true"]["A_egrmax"]) <= w["half_width"]["A_egrmax"] for w in windows]
    assert metrics["coverage"] == pytest.approx(np.mean(held))
    assert metrics["drift_A_egrmax"] == pytest.approx(np.mean([w["drift"]["A_egrmax"] for w in metrics["windows"][2:]]))
    assert metrics["true_drift_A_egrmax"] == pytest.approx(-0.2)
    assert result.identified["A_egrmax"] == pytest.approx(windows[-1]["mean"]["A_egrmax"])
    assert (tmp_path / "monitor.png").stat().st_size > 10_000

    points = torch.tensor([[5.0] + [0.0] * 8, [0.5] + [0.0] * 8], dtype=torch.float64)
    local = points.clone()
    local[:, 0] = torch.tensor([1.0, 0.5])
    twins = result.model.twins
    assert torch.allclose(result.model(points), torch.cat([twins[2](local[:1]), twins[0](local[1:])]), rtol=0, atol=0)
    again = sciml.load(tmp_path)
    assert np.array_equal(again.predict(points.numpy()), result.predict(points.numpy()))


def test_each_member_drops_its_own_features_of_the_body(source):
    """MC dropout: a member's twin has the source body's features where its mask keeps them and exactly zero
    (value and time derivative) where it drops them; the masks differ between members and windows, and
    dropout=0 keeps every feature."""
    from sciml.solvers.ode_pinn import ODEPinn

    problem = registry.problem("diesel-engine")(duration=8.0, **RUN).identify(["A_egrmax"])
    monitor = registry.solver("twin-monitor")(problem, init=str(source), window=2.0, dropout=0.5)
    masks = {(k, m): monitor.keep(k, m, 8) for k in range(2) for m in range(2)}
    assert len({tuple(mask.tolist()) for mask in masks.values()}) == 4
    keep = masks[1, 1]
    assert 0 < int(keep.sum()) < 8

    def features(twin):
        twin.model = twin.build_model()
        twin.load_initial_weights(source)
        xi = torch.linspace(-1.0, 1.0, 7, dtype=torch.float64).expand(twin.model.nets.count, 7)
        return twin.model.nets.features(xi)

    guesses = dict(problem.unknowns)
    h, dh = features(monitor.twin(1, 1, guesses))
    h0, dh0 = features(ODEPinn(monitor.window_problem(1, 1, guesses), **monitor.twin_settings(1)))
    assert not h[..., ~keep].any() and not dh[..., ~keep].any() and h0[..., ~keep].abs().min() > 0
    assert torch.equal(h[..., keep], h0[..., keep]) and torch.equal(dh[..., keep], dh0[..., keep])
    kept_all = registry.solver("twin-monitor")(problem, init=str(source), window=2.0, dropout=0.0)
    assert all(kept_all.keep(k, m, 8).all() for k in range(4) for m in range(4))


def test_bad_input_is_one_sentence(source):
    problem = registry.problem("diesel-engine")(duration=8.0, **RUN).identify(["A_egrmax"])
    monitor = registry.solver("twin-monitor")
    with pytest.raises(ValueError, match="give init='FOLDER'"):
        monitor(problem)
    with pytest.raises(ValueError, match=r"duration 8 s must be a whole number of windows of 3 s"):
        monitor(problem, init=str(source), window=3.0)
    with pytest.raises(ValueError, match="members must be an integer >= 2, got 1"):
        monitor(problem, init=str(source), window=2.0, members=1)
    with pytest.raises(ValueError, match=r"dropout must be a share of the body's features in \[0, 1\), got 1"):
        monitor(problem, init=str(source), window=2.0, dropout=1)
    with pytest.raises(ValueError, match="cannot solve problem 'lorenz'.*cut into windows"):
        sciml.run("lorenz", "twin-monitor")
