"""The validation runner with a problem that has its own metrics and figures and no reference field
(the cylinder): bounds on metrics decide pass/fail, extra figures reach the report."""

import json

import pytest

from sciml.validation import cases
from sciml.validation.cases import Case
from sciml.validation.runner import main, render_report

TINY = {"iterations": 5, "lbfgs_iterations": 0, "n_interior": 200, "width": 8, "depth": 2, "compile": False}
WIDE = Case(name="tiny-cylinder", problem="cylinder", solver="pinn", settings=TINY,
            bounds={"drag_coefficient": (-1e9, 1e9)})
TIGHT = Case(name="tiny-cylinder-tight", problem="cylinder", solver="pinn", settings=TINY,
             bounds={"drag_coefficient": (5.412, 5.747)})


@pytest.fixture
def tiny_cylinder_cases():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for case in (WIDE, TIGHT):
        cases.register(case)
    yield
    for case in (WIDE, TIGHT):
        cases.unregister(case.name)
    torch.set_num_threads(threads)


def test_bounds_and_problem_figures_reach_the_report(tmp_path, tiny_cylinder_cases):
    out = tmp_path / "v"
    assert main(["tiny-cylinder", "--out", str(out), "--no-progress"]) == 0
    stored = json.loads((out / "results" / "tiny-cylinder.json").read_text())
    assert stored["rel_l2"] is None and stored["passed"] is True
    assert {"drag_coefficient", "lift_coefficient", "pressure_difference"} <= set(stored)
    assert stored["figures"]["fields"] == "figures/tiny-cylinder-fields.png"
    assert (out / "figures" / "tiny-cylinder-fields.png").stat().st_size > 10_000
    assert "comparison" not in stored["figures"]
    # five Adam steps are nowhere near C_D = 5.58: the same run under the tight bound fails
    tight = {**stored, "case": TIGHT.to_dict()}
    (out / "results" / "tiny-cylinder-tight.json").write_text(json.dumps(tight))
    report = render_report(out)
    assert f"| drag_coefficient | {stored['drag_coefficient']:.5g} | [-1e+09, 1e+09] | pass |" in report
    assert "| [5.412, 5.747] | FAIL |" in report
    assert f"| lift_coefficient | {stored['lift_coefficient']:.5g} | — (reported, no bound) | — |" in report
    assert "(figures/tiny-cylinder-fields.png)" in report


def test_bounds_must_be_intervals():
    with pytest.raises(ValueError, match="low <= high"):
        Case(name="x", problem="cylinder", solver="pinn", bounds={"drag_coefficient": (2.0, 1.0)})
