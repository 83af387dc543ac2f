"""The multi-domain solver: layout, stitching, interface terms against a joint loss written out by hand,
both engines, per-phase conditions, accuracy against the analytic Poisson solution, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml
from sciml.problems import Burgers, Poisson
from sciml.solvers import MultiDomainPINN
from sciml.solvers.multidomain import CONDITIONS, interface_jumps

SMALL = dict(width=12, depth=2, n_interior=400, n_interface=30, iterations=5, lbfgs_iterations=0, progress=False,
             device="cpu", dtype="float64")


def test_layout_cuts_the_box_into_subdomains_with_their_interfaces():
    solver = MultiDomainPINN(Poisson(), **SMALL)
    layout = solver.layout
    assert len(layout) == 4 and len(layout.interfaces) == 4
    x = torch.tensor([[0.1, 0.1], [0.1, 0.9], [0.9, 0.1], [0.9, 0.9], [0.5, 0.2]])
    assert layout.locate(x).tolist() == [0, 1, 2, 3, 2]  # C order over (x, y); a cut point goes above
    faces = {(f.a, f.b, f.axis, f.position) for f in layout.interfaces}
    assert faces == {(0, 1, 1, 0.5), (2, 3, 1, 0.5), (0, 2, 0, 0.5), (1, 3, 0, 0.5)}
    burgers = MultiDomainPINN(Burgers(), **SMALL).layout  # space-time, as Burgers suggests
    assert [list(c) for c in burgers.cuts] == [[-0.5], [0.25]]
    middle = MultiDomainPINN(Burgers(), splits=None, **SMALL).layout  # the default: every input at its middle
    assert [list(c) for c in middle.cuts] == [[0.0], [0.5]]


def test_stitched_prediction_uses_each_subdomains_network():
    solver = MultiDomainPINN(Poisson(), widths=[8, 10, 12, 14], depths=[1, 2, 2, 3], **{
        k: v for k, v in SMALL.items() if k not in ("width", "depth")})
    solver.setup()
    model = solver.model
    assert [net.body.linears[0].out_features for net in model.nets] == [8, 10, 12, 14]
    x = torch.rand(200, 2, dtype=torch.float64)
    where = solver.layout.locate(x)
    stitched = model(x)
    for k, net in enumerate(model.nets):
        assert torch.allclose(stitched[where == k], net(x[where == k]), rtol=0, atol=0)


def _joint_loss(solver):
    """The multi-domain loss written out directly: per-subdomain residual means plus, per interface,
    the mean squared jump of u, of the residual, of the normal derivative and of the gradient."""
    p = solver.problem
    x = solver.interior.x
    where = solver.layout.locate(x)
    total = 0.0
    for k, net in enumerate(solver.model.nets):
        f = sciml.fields.AutogradFields(net, x[where == k], p.inputs, p.outputs)
        total = total + (p.residual(f) ** 2).mean()
    jumps = {c: 0.0 for c in CONDITIONS if c != "average"}
    for face, points in zip(solver.layout.interfaces, solver.interface_sets):
        fa, fb = (sciml.fields.AutogradFields(solver.model.nets[k], points.x, p.inputs, p.outputs)
                  for k in (face.a, face.b))
        jumps["solution"] = jumps["solution"] + ((fa["u"] - fb["u"]) ** 2).mean()
        jumps["residual"] = jumps["residual"] + ((p.residual(fa) - p.residual(fb)) ** 2).mean()
        name = p.inputs[face.axis]
        jumps["flux"] = jumps["flux"] + ((fa.d("u", name) - fb.d("u", name)) ** 2).mean()
        jumps["gradient"] = jumps["gradient"] + sum(((fa.d("u", i) - fb.d("u", i)) ** 2).mean() for i in p.inputs)
    return total, jumps


@pytest.mark.parametrize("engine", ["taylor", "autograd"])
def test_loss_and_gradient_equal_the_joint_multidomain_loss(engine):
    conditions = ("solution", "residual", "flux", "gradient")
    solver = MultiDomainPINN(Poisson(frequency=1.5), engine=engine, interface=conditions, interface_weight=0.7, **SMALL)
    solver.setup()
    params = list(solver.model.parameters())
    terms = solver.loss()
    residual, jumps = _joint_loss(solver)
    assert terms["residual"].item() == pytest.approx(residual.item(), rel=1e-12)
    for name in conditions:
        assert terms[f"interface_{name}"].item() == pytest.approx(0.7 * jumps[name].item(), rel=1e-12)
    ours = torch.autograd.grad(sum(terms.values()), params)
    joint = torch.autograd.grad(residual + 0.7 * sum(jumps.values()), params)
    for a, b in zip(ours, joint):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_average_continuity_pulls_with_half_the_strength_of_solution_continuity():
    grads = {}
    for name in ("solution", "average"):
        solver = MultiDomainPINN(Poisson(), interface=(name,), **SMALL)
        solver.setup()
        grads[name] = torch.autograd.grad(solver.loss()[f"interface_{name}"], list(solver.model.parameters()))
    for a, s in zip(grads["average"], grads["solution"]):
        assert torch.allclose(a, 0.5 * s, rtol=1e-10, atol=1e-14)


def test_adam_and_lbfgs_phases_use_their_own_interface_conditions():
    settings = {**SMALL, "iterations": 3, "lbfgs_iterations": 4, "lbfgs_chunk": 2}
    result = MultiDomainPINN(Poisson(), interface="solution+flux", lbfgs_interface=("gradient",), **settings).train()
    adam = [set(r) for r in result.history if r["phase"] == "adam"]
    lbfgs = [set(r) for r in result.history if r["phase"] == "lbfgs"]
    assert adam and lbfgs
    assert all({"interface_solution", "interface_flux"} <= keys and "interface_gradient" not in keys for keys in adam)
    assert all("interface_gradient" in keys and "interface_solution" not in keys for keys in lbfgs)


def test_poisson_on_four_subdomains_matches_the_analytic_solution(tmp_path):
    settings = dict(width=16, depth=2, n_interior=600, n_interface=40, iterations=300, lbfgs_iterations=300,
                    interface=("solution", "flux"), interface_weight=10.0, progress=False, device="cpu")
    result = sciml.run("poisson", "multidomain", frequency=1.0, out=tmp_path, **settings)
    error = result.errors()["rel_l2"]
    assert error < 2e-2, error
    jumps = interface_jumps(result)
    assert len(jumps) == 4
    assert max(np.abs(j["jump"]).max() for j in jumps) < 0.05
    again = sciml.load(tmp_path)
    x = np.random.default_rng(0).uniform(0, 1, (50, 2))
    assert np.array_equal(again.predict(x), result.predict(x))


@pytest.mark.parametrize("bad,message", [
    (dict(interface=("solution", "jump")), "interface must be"),
    (dict(lbfgs_interface=()), "lbfgs_interface must be"),
    (dict(splits={"z": [0.5]}), "unknown input"),
    (dict(splits={"x": [1.5]}), "strictly inside"),
    (dict(widths=[8, 8]), "widths must list one positive integer per subdomain"),
    (dict(n_interface=0), "n_interface"),
])
def test_bad_settings_name_the_value(bad, message):
    with pytest.raises(ValueError, match=message):
        MultiDomainPINN(Poisson(), **{**SMALL, **bad})
