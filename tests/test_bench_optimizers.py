"""Tests for ``sciml bench optimizers`` (benchmarks/optimizers.py) at a tiny budget: what it compares
must be comparable (the same Adam run under every optimiser) and its curves must end on the model it
reports. Its timings are not tested (they are what the benchmark measures)."""

import json

import pytest

from sciml.benchmarks.optimizers import main, time_to_reach


def test_bad_optimizer_lists_are_refused_with_the_value():
    for given in ("ssbroyden", "adam-lbfgs,adam-lbfgs", "adam-lbfgs,engd", "adam-lbfgs,newton"):
        with pytest.raises(ValueError, match=f"--optimizers must name at least two different optimisers .*{given!r}"):
            main(["--optimizers", given])
    with pytest.raises(ValueError, match="--steps must be positive, got 0"):
        main(["--steps", "0"])


def test_time_to_reach_is_the_first_time_at_or_below_the_error():
    curve = [{"time_s": 1.0, "rel_l2": 0.5}, {"time_s": 2.0, "rel_l2": 0.1}, {"time_s": 3.0, "rel_l2": 0.2},
             {"time_s": 4.0, "rel_l2": 0.05}]
    assert time_to_reach(curve, 0.2) == 2.0 and time_to_reach(curve, 0.1) == 2.0
    assert time_to_reach(curve, 0.05) == 4.0 and time_to_reach(curve, 0.01) is None


def test_every_optimizer_continues_the_same_adam_run(tmp_path, one_thread):
    assert main(["--iterations", "20", "--steps", "10", "--n-interior", "300", "--eval-every", "10",
                 "--optimizers", "adam-lbfgs,ssbroyden,bfgs", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "optimizers-burgers.json").read_text())
    adam = {name: [(p["step"], p["rel_l2"]) for p in run["curve"] if p["phase"] == "adam"]
            for name, run in saved["runs"].items()}
    assert adam["adam-lbfgs"] == adam["ssbroyden"] == adam["bfgs"] and [s for s, _ in adam["bfgs"]] == [10, 20]
    for name, run in saved["runs"].items():
        after = [p for p in run["curve"] if p["phase"] != "adam"]
        assert after and run["curve"][-1]["rel_l2"] == pytest.approx(run["final_rel_l2"], rel=1e-9)
        assert {p["phase"] for p in after} <= {"lbfgs" if name == "adam-lbfgs" else name, "done"}, name
        assert run["steps_after_adam"] <= 10 and saved["ratio_vs_baseline"][name] == pytest.approx(
            run["final_rel_l2"] / saved["final_rel_l2"]["adam-lbfgs"])
    assert (tmp_path / "optimizers-burgers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
