"""The validation runner with a problem that has its own metrics and figures and no reference field
(the cylinder): bounds on metrics decide pass/fail, extra figures reach the report."""

import json

import pytest

from sciml.validation import cases
from sciml.problems.navier_stokes import SCHAEFER_TUREK_2D1
from sciml.validation.cases import Case, Published
from sciml.validation.runner import code_fingerprint, _passed, main, render_report

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
    assert f"| drag_coefficient | {stored['drag_coefficient']:.5g} | — | [-1e+09, 1e+09] | pass |" in report
    assert "| [5.412, 5.747] | FAIL |" in report
    assert f"| lift_coefficient | {stored['lift_coefficient']:.5g} | — | — (reported, no bound) | — |" in report
    assert "(figures/tiny-cylinder-fields.png)" in report


def test_bounds_must_be_intervals():
    with pytest.raises(ValueError, match="low <= high"):
        Case(name="x", problem="cylinder", solver="pinn", bounds={"drag_coefficient": (2.0, 1.0)})


SCHAEFER_TUREK = "M. Schäfer, S. Turek, Notes on Numerical Fluid Mechanics 52 (1996), benchmark 2D-1"


def test_a_published_value_needs_a_bound_that_contains_it():
    """The rule of the registry: a published value is shown beside ours, so the case must bound it
    (a relative L2 by the target, any other metric by an interval containing the published value)."""
    lift = Published(SCHAEFER_TUREK_2D1["lift_coefficient"], "lift_coefficient", "FEATFLOW", SCHAEFER_TUREK)
    unbounded = Case(name="cylinder-unbounded-lift", problem="cylinder", solver="pinn", published=(lift,),
                     bounds={"drag_coefficient": (5.41, 5.75)})
    with pytest.raises(ValueError, match="needs a bound on 'lift_coefficient'"):
        cases.register(unbounded)
    wrong = Case(name="cylinder-wrong-lift", problem="cylinder", solver="pinn", published=(lift,),
                 bounds={"lift_coefficient": (0.1, 0.2)})
    with pytest.raises(ValueError, match="does not contain its published value 0.0106189"):
        cases.register(wrong)
    no_target = Case(name="burgers-no-target", problem="burgers", solver="pinn",
                     published=(Published(6.7e-4, "relative L2", "PINN", "Raissi et al. (2019), Table 1"),))
    with pytest.raises(ValueError, match="needs a target on the relative L2"):
        cases.register(no_target)
    assert not {"cylinder-unbounded-lift", "cylinder-wrong-lift", "burgers-no-target"} & set(cases.names())


def test_every_registered_published_value_is_bounded():
    for name in cases.names():
        case = cases.get(name)
        for p in case.published:
            if p.metric == "relative L2":
                assert case.target is not None, name
            else:
                low, high = case.bounds[p.metric]
                assert low <= p.value <= high, (name, p.metric)
    cylinder = cases.get("cylinder-pinn")
    assert {p.metric for p in cylinder.published} == set(SCHAEFER_TUREK_2D1) == set(cylinder.bounds)
    ref = SCHAEFER_TUREK_2D1["lift_coefficient"]
    assert cylinder.bounds["lift_coefficient"] == pytest.approx((0.8 * ref, 1.2 * ref), rel=1e-12)


def test_a_bounded_metric_out_of_bounds_fails_the_case(tmp_path):
    """A stored cylinder result with C_D and Δp in their bounds but C_L 11x the published value (the
    figures of the run that used to print "pass") is a FAIL, in the verdict and in the report."""
    case = cases.get("cylinder-pinn")
    record = {"problem": "cylinder", "solver": "pinn", "rel_l2": None, "case": case.to_dict(),
              "problem_metrics": ["drag_coefficient", "lift_coefficient", "pressure_difference"],
              "drag_coefficient": 5.639, "lift_coefficient": 0.1146, "pressure_difference": 0.1161,
              "code": code_fingerprint()}  # run on this code: not stale
    assert _passed(case, record) is False
    assert _passed(case, {**record, "lift_coefficient": 0.0105}) is True
    assert _passed(case, {**record, "lift_coefficient": None}) is False  # a bounded metric must be measured
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cylinder-pinn.json").write_text(json.dumps(record))
    report = render_report(tmp_path)
    row = next(line for line in report.splitlines() if line.startswith("| [cylinder-pinn]("))
    assert "| FAIL |" in row and "lift_coefficient = 0.010619" in row
    assert "| lift_coefficient | 0.1146 | 0.010619 [1] | [0.0084952, 0.012743] | FAIL |" in report
    assert "| drag_coefficient | 5.639 | 5.5795 [1] | [5.4121, 5.7469] | pass |" in report
