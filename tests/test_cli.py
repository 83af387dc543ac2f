"""The command line and the Python entry points: outputs on disk, round trips, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import sciml
from sciml.cli import main
from sciml.device import resolve_device
from sciml.io import read_pvd

FAST = ["--iterations", "30", "--lbfgs-iterations", "0", "--no-progress"]


def readme_metrics_keys() -> set[str]:
    """The metrics.json keys the README documents (the backticked names in its metrics.json item)."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    item = text.split("- `metrics.json`, with the keys ", 1)[1].split("\n- ", 1)[0]
    return set(re.findall(r"`([a-z_0-9]+)`", item))


def test_list_names_problems_and_solvers(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "burgers" in out and "pinn" in out


def test_run_help_shows_generated_parameter_flags(capsys):
    with pytest.raises(SystemExit):
        main(["run", "burgers", "--help"])
    out = capsys.readouterr().out
    assert "--nu NU" in out and "[unit: 1]" in out and "0.0031830988" in out
    assert "--enforce {hard,soft}" in out


@pytest.mark.parametrize("problem,optimizer,after_adam", [
    ("burgers", "ssbroyden", "ssbroyden steps after Adam"),
    ("lid-driven-cavity", "adam-lbfgs", "L-BFGS iterations after Adam"),
])
def test_run_help_names_the_problems_own_optimizer(capsys, problem, optimizer, after_adam):
    from sciml import registry

    problem_cls = registry.problem(problem)
    assert problem_cls.solver_defaults.get("pinn", {}).get("optimizer", "adam-lbfgs") == optimizer
    with pytest.raises(SystemExit):
        main(["run", problem, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert f"what follows Adam (default: {optimizer})" in out and after_adam in out


@pytest.mark.parametrize("argv,message", [
    (["run", "burgerz"], "unknown problem 'burgerz'; known problems: allen-cahn, burgers, convection"),
    (["run", "burgers", "--solver", "magic"], "unknown solver 'magic'; known solvers: " + ", ".join(
        sorted(sciml.registry.names("sciml.solvers")))),
    (["run", "burgers", "--iterations", "0"], "iterations must be a positive integer, got 0"),
    (["run", "burgers", "--iterations", "-5"], "iterations must be a positive integer, got -5"),
    (["run", "burgers", "--nu", "-0.1"], "nu must be > 0.0"),
    (["run", "burgers", "--device", "tpu"], "unknown device 'tpu'"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["run", "burgers", "--set", "learning_rate=0.1"], "solver 'pinn' has no setting 'learning_rate'; its settings: "),
    (["run", "burgers", "--set", "lr"], "--set takes NAME=VALUE, got 'lr'"),
    (["run", "burgers", "--width", "32", "--set", "width=64"], "--set width=64 disagrees with --width 32: give one"),
])
def test_bad_input_is_one_clear_sentence(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_set_gives_any_solver_setting_as_a_literal_or_text(capsys):
    from sciml.cli import parse_run

    args, _, settings = parse_run(["traffic", "--solver", "mto", "--set", "tasks=['points', 'smooth:2']",
                                   "--set", "alpha=0.25", "--set", "schedule=exponential", "--set", "smooth=None"])
    assert args.solver == "mto"
    assert settings["tasks"] == ["points", "smooth:2"] and settings["alpha"] == 0.25
    assert settings["schedule"] == "exponential" and settings["smooth"] is None
    with pytest.raises(SystemExit):
        main(["run", "traffic", "--solver", "mto", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    # the help lists the chosen solver's settings with the problem's own defaults (traffic: 32 wide, SSBroyden)
    assert "settings of solver 'mto' for --set, with their defaults for 'traffic':" in out
    assert "width=32;" in out and "optimizer='ssbroyden';" in out and "round_steps=100;" in out


def test_out_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["run", "burgers", "--out", str(target)] + FAST) == 2
    assert f"output directory '{target}' exists and is not a directory" in capsys.readouterr().err


def test_run_writes_metrics_checkpoint_figure_and_vtu(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "burgers", "--nu", "0.02", "--seed", "3", "--device", "cpu", "--out", str(out), "--set", "checkpoint_minutes=7.5"]
                + FAST) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    documented = readme_metrics_keys()
    assert {"problem", "rel_l2", "params", "settings", "loss_terms"} <= documented
    assert documented - {"residual"} <= set(metrics)  # every key the README names is in the file
    assert (metrics["problem"], metrics["solver"], metrics["seed"], metrics["device"]) == ("burgers", "pinn", 3, "cpu")
    assert metrics["iterations"] == {"adam": 30, "ssbroyden": 0}  # Burgers' PINN default: SSBroyden after Adam
    assert metrics["params"]["nu"] == 0.02 and metrics["settings"]["checkpoint_minutes"] == 7.5
    for name in ("checkpoint.pt", "result.pt", "history.json", "comparison.png"):
        assert (out / name).stat().st_size > 0
    # the saved result reproduces the recorded error, and the VTU holds its prediction
    loaded = sciml.load(out)
    assert loaded.errors()["rel_l2"] == pytest.approx(metrics["rel_l2"], rel=1e-12)
    series = read_pvd(out / "fields.pvd")
    ref = loaded.problem.reference()
    t, x = ref.grid["t"], ref.grid["x"]
    assert [time for time, _ in series] == pytest.approx(list(t))
    time, mesh = series[-1]
    points = np.stack([x, np.full_like(x, time)], axis=1)
    np.testing.assert_allclose(mesh.point_data["u"], loaded.predict(points)[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mesh.points[:, 0], x)
    assert mesh.points.shape == (len(x), 3) and "line" in mesh.cells_dict
    # --init starts a new run from this one's network
    again = tmp_path / "again"
    assert main(["run", "burgers", "--nu", "0.02", "--device", "cpu", "--out", str(again), "--init", str(out)]
                + FAST) == 0
    assert json.loads((again / "metrics.json").read_text())["settings"]["init"] == str(out)
    assert sciml.load(again).errors()["rel_l2"] < metrics["rel_l2"]


def test_python_run_and_load_round_trip(tmp_path):
    result = sciml.run("burgers", nu=0.005, iterations=20, lbfgs_iterations=0, progress=False, device="cpu",
                       out=tmp_path / "r")
    assert result.problem.nu == 0.005
    x = np.array([[0.1, 0.2], [-0.5, 0.9]])
    np.testing.assert_array_equal(sciml.load(tmp_path / "r").predict(x), result.predict(x))
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\)"):
        result.predict(np.zeros((3, 3)))


def test_python_run_rejects_unknown_arguments():
    with pytest.raises(ValueError, match="unknown argument.*'viscosity'.*parameters \\['enforce', 'nu'\\]"):
        sciml.run("burgers", viscosity=0.1)
    with pytest.raises(FileNotFoundError, match="no saved result"):
        sciml.load("/nonexistent/dir")


def test_device_selection():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected and resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize("argv,message", [
    (["run", "burgers", "--solver", "neural-ode"],
     "solver 'neural-ode' cannot solve problem 'burgers': it is not an ODE problem"),
    (["run", "lorenz", "--solver", "pinn"], "solver 'pinn' cannot solve problem 'lorenz': it is an ODE problem"),
])
def test_a_solver_that_cannot_take_a_problem_says_so_and_names_those_that_can(argv, message, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path / "r")] + FAST) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    able = err.split("solvers that can: ")[1].split(", ")
    assert ("pinn" in able) == (argv[1] == "burgers") and ("neural-ode" in able) == (argv[1] == "lorenz")


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_a_log(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug deep inside")

    monkeypatch.setattr("sciml.api.run", broken)
    out = tmp_path / "r"
    assert main(["run", "burgers", "--out", str(out)] + FAST) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"sciml: error: unexpected RuntimeError: a bug deep inside (full traceback in {out / 'sciml-error.log'})"
    log = (out / "sciml-error.log").read_text()
    assert log.startswith("Traceback") and "in broken" in log and "RuntimeError: a bug deep inside" in log
