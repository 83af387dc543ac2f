"""Navier-Stokes problems: residual against exact solutions, exact (hard) conditions, units, metrics."""

import math

import numpy as np
import pytest
import torch

from sciml.fields import AutogradFields
from sciml.problems.navier_stokes import Cylinder, Kovasznay, LidDrivenCavity, TaylorGreen, stokes_corner
from sciml.classical.cavity import bundled


def _fields(problem, fn, x):
    """Fields of the function ``fn`` (columns u, v, p) at points x (float64)."""
    model = lambda z: torch.stack(fn(z), dim=1)  # noqa: E731
    return AutogradFields(model, x, problem.inputs, problem.outputs, problem.spatial)


def _max_residual(problem, fn, x):
    return max(r.abs().max().item() for r in problem.residual(_fields(problem, fn, x)).values())


def test_exact_solutions_have_zero_residual():
    g = torch.Generator().manual_seed(0)
    kov = Kovasznay()
    x = torch.rand(200, 2, generator=g, dtype=torch.float64) * torch.tensor([1.5, 2.0]) - 0.5
    assert _max_residual(kov, lambda z: kov.exact(z[:, 0], z[:, 1]), x) < 1e-11
    tg = TaylorGreen(nu=0.05, velocity=2.0, length=0.5, duration=3.0)
    xt = torch.rand(200, 3, generator=g, dtype=torch.float64) * torch.tensor([math.pi, math.pi, 3.0])
    assert _max_residual(tg, lambda z: tg.exact(z[:, 0], z[:, 1], z[:, 2]), xt) < 1e-11
    # A wrong viscosity leaves a residual: the test can fail.
    tg_wrong = TaylorGreen(nu=0.06, velocity=2.0, length=0.5, duration=3.0)
    assert _max_residual(tg_wrong, lambda z: tg.exact(z[:, 0], z[:, 1], z[:, 2]), xt) > 1e-3


def test_residual_is_nondimensional():
    """A field û(x̂) of the unit cavity and its dimensional copy U û(x/L), ρU² p̂(x/L) give the same
    (nondimensionalised) residuals."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    unit = LidDrivenCavity(re=100)
    phys = LidDrivenCavity(re=100, length=2.0, lid_velocity=3.0, density=1.2)
    scale = torch.tensor([3.0, 3.0, 1.2 * 9.0], dtype=torch.float64)
    xhat = torch.rand(50, 2, dtype=torch.float64)
    r_unit = unit.residual(AutogradFields(net, xhat, unit.inputs, unit.outputs))
    r_phys = phys.residual(AutogradFields(lambda z: net(z / 2.0) * scale, xhat * 2.0, phys.inputs, phys.outputs))
    for key in r_unit:
        torch.testing.assert_close(r_phys[key], r_unit[key], rtol=1e-10, atol=1e-12)
    assert phys.nu == pytest.approx(3.0 * 2.0 / 100)


def _constrained(problem, x):
    torch.manual_seed(1)
    body = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    return problem.constraint()(x, body(x))


@pytest.mark.parametrize("lid, corner_flow", [("uniform", "stokes"), ("uniform", "blend"), ("regularised", "stokes")])
def test_cavity_velocity_conditions_are_exact(lid, corner_flow):
    p = LidDrivenCavity(re=100, lid=lid, length=2.0, lid_velocity=0.5, corner_flow=corner_flow)
    s = torch.linspace(0.01, 1.99, 9, dtype=torch.float64)
    zero, two = torch.zeros_like(s), torch.full_like(s, 2.0)
    lid_pts = torch.stack([s, two], 1)
    walls = torch.cat([torch.stack([zero, s], 1), torch.stack([two, s], 1), torch.stack([s, zero], 1)])
    top = _constrained(p, lid_pts)
    speed = 0.5 * (torch.ones_like(s) if lid == "uniform" else 16 * (s / 2) ** 2 * (1 - s / 2) ** 2)
    torch.testing.assert_close(top[:, 0], speed, rtol=0, atol=1e-14)
    assert top[:, 1].abs().max() == 0
    assert _constrained(p, walls)[:, :2].abs().max() < 1e-14
    inside = _constrained(p, torch.tensor([[1.0, 1.0]], dtype=torch.float64))
    assert inside[0, :2].abs().min() > 0  # the network is free inside


def test_kovasznay_and_taylor_green_conditions_are_exact():
    kov = Kovasznay()
    s = torch.linspace(-0.5, 1.0, 7, dtype=torch.float64)
    edge = torch.stack([s, torch.full_like(s, 1.5)], 1)
    out = _constrained(kov, edge)
    u, v, _ = kov.exact(edge[:, 0], edge[:, 1])
    torch.testing.assert_close(out[:, 0], u, atol=1e-14, rtol=0)
    torch.testing.assert_close(out[:, 1], v, atol=1e-14, rtol=0)
    tg = TaylorGreen()
    g = torch.Generator().manual_seed(2)
    x0 = torch.rand(20, 3, generator=g, dtype=torch.float64) * 2 * math.pi
    x0[:, 2] = 0.0  # the initial condition, everywhere in space
    xb = torch.rand(20, 3, generator=g, dtype=torch.float64) * 2 * math.pi
    xb[:, 0], xb[:, 2] = 2 * math.pi, 0.7  # the right side at a later time
    for pts in (x0, xb):
        out = _constrained(tg, pts)
        u, v, _ = tg.exact(pts[:, 0], pts[:, 1], pts[:, 2])
        torch.testing.assert_close(out[:, 0], u, atol=1e-13, rtol=0)
        torch.testing.assert_close(out[:, 1], v, atol=1e-13, rtol=0)


def test_soft_variant_penalises_the_same_conditions():
    p = LidDrivenCavity(enforce="soft")
    assert p.constraint() is None
    names = [c.name for c in p.conditions()]
    assert names == ["boundary_u", "boundary_v"]
    assert [c.name for c in TaylorGreen(enforce="soft").conditions()] == [
        "boundary_u", "boundary_v", "initial_u", "initial_v"]


def test_cavity_reference_and_ghia_metrics():
    """The CFD field itself, used as the prediction, meets the Ghia bound; the problem's metric sees it."""
    from scipy.interpolate import RectBivariateSpline

    p = LidDrivenCavity(re=400, length=2.0, lid_velocity=0.5)
    ref = p.reference()
    assert ref.outputs == ("u", "v") and ref.points.max() == pytest.approx(2.0)
    flow = bundled(400)
    splines = [RectBivariateSpline(flow.x, flow.x, f) for f in (flow.u, flow.v)]

    def predict(points):
        xi, yi = points[:, 0] / 2.0, points[:, 1] / 2.0
        return np.stack([0.5 * s(xi, yi, grid=False) for s in splines] + [np.zeros(len(points))], axis=1)

    np.testing.assert_allclose(predict(ref.points)[:, :2], ref.values, atol=1e-12)
    m = p.metrics(predict)
    assert m["ghia_max_deviation"] <= 0.01
    wrong = p.metrics(lambda pts: predict(pts) * 1.1)
    assert wrong["ghia_max_deviation"] > 0.03


def test_cylinder_velocity_conditions_are_exact():
    p = Cylinder()
    y = torch.linspace(0.0, 0.41, 9, dtype=torch.float64)
    inlet = _constrained(p, torch.stack([torch.zeros_like(y), y], 1))
    torch.testing.assert_close(inlet[:, 0], 4 * 0.3 * y * (0.41 - y) / 0.41 ** 2, atol=1e-14, rtol=0)
    theta = torch.linspace(0, 2 * math.pi, 13, dtype=torch.float64)
    circle = torch.stack([0.2 + 0.05 * torch.cos(theta), 0.2 + 0.05 * torch.sin(theta)], 1)
    x = torch.linspace(0.1, 2.2, 7, dtype=torch.float64)
    walls = torch.cat([torch.stack([x, torch.zeros_like(x)], 1), torch.stack([x, torch.full_like(x, 0.41)], 1)])
    for pts in (circle, walls):
        assert _constrained(p, pts)[:, :2].abs().max() < 1e-12
    assert p.re == pytest.approx(20.0)


def test_cylinder_forces_from_stress_integral():
    """Known fields: p = a x gives F = -a π R² e_x; u = c (r² - R²) e_x gives F_x = 6 π ρ ν c R² (the
    viscous part of ∮ σ n ds); the probes read p for the pressure difference. The fields do not solve
    the equations, so only the surface integral is the closed form; the metrics are the volume form's."""
    p = Cylinder(nu=2e-3, density=1.5)
    a, c, (xc, yc), r = 3.0, 7.0, p.CENTRE, p.RADIUS

    def predict(pts):
        r2 = (pts[:, 0] - xc) ** 2 + (pts[:, 1] - yc) ** 2
        return np.stack([c * (r2 - r ** 2), 0 * r2, a * pts[:, 0]], axis=1)

    fx, fy = p.forces(predict, method="surface")
    assert fx == pytest.approx(-a * math.pi * r ** 2 + 6 * math.pi * 1.5 * 2e-3 * c * r ** 2, rel=1e-6)
    assert abs(fy) < 1e-12
    m = p.metrics(predict)
    assert m["pressure_difference"] == pytest.approx(a * (0.15 - 0.25))
    assert m["drag_coefficient"] == pytest.approx(2 * p.forces(predict)[0] / (1.5 * 0.2 ** 2 * 0.1), rel=1e-12)
    with pytest.raises(ValueError, match="method must be one of"):
        p.forces(predict, method="line")
    with pytest.raises(ValueError, match="1 < outer <= 4 radii"):
        p.forces(predict, outer=5.0)


def test_cylinder_forces_of_a_manufactured_field_with_lift():
    """Velocity s(r) A(θ) with s = sin(k (r - R)) / k (no slip, ∂u/∂n = A on the surface) and a pressure
    with cos θ, sin θ, sin 2θ and cos³θ parts on the circle. In closed form, ∮ σ n ds with σ n =
    -p n + ρν (A + n (n·A)):
    F_x = -π R² (c1 + 3 c4 R² / 4) + ρνπR (3 a0 + (a2 + b2) / 2),   F_y = -π R² c2 + 3 ρνπR b0."""
    rho, nu = 1.5, 2e-3
    p = Cylinder(nu=nu, density=rho)
    (xc, yc), r0 = p.CENTRE, p.RADIUS
    a0, a1, a2, b0, b1, b2 = 0.7, -0.4, 0.9, -1.3, 0.5, 0.6
    c1, c2, c3, c4, k = 3.0, -2.0, 5.0, 40.0, 20.0

    def predict(pts):
        dx, dy = pts[:, 0] - xc, pts[:, 1] - yc
        r, th = np.hypot(dx, dy), np.arctan2(dy, dx)
        s = np.sin(k * (r - r0)) / k
        return np.stack([s * (a0 + a1 * np.sin(th) + a2 * np.cos(2 * th)),
                         s * (b0 + b1 * np.cos(th) + b2 * np.sin(2 * th)),
                         c1 * dx + c2 * dy + c3 * dx * dy + c4 * dx ** 3], axis=1)

    fx, fy = p.forces(predict, method="surface")
    assert fx == pytest.approx(-math.pi * r0 ** 2 * (c1 + 0.75 * c4 * r0 ** 2)
                               + rho * nu * math.pi * r0 * (3 * a0 + (a2 + b2) / 2), rel=1e-6)
    assert fy == pytest.approx(-math.pi * r0 ** 2 * c2 + 3 * rho * nu * math.pi * r0 * b0, rel=1e-6)


def _stokes_flow_past_cylinder(problem, force):
    """Exact Stokes flow (u, v, p) in the plane around the no-slip cylinder, as a predict function:
    a Stokeslet of strength ``force`` (N/m, the force on the fluid) at the centre, the potential dipole
    -R²/(4μ) of it and the uniform flow that cancel it on r = R (μ = ρν)."""
    mu, r0 = problem.rho * problem.nu, problem.RADIUS
    force = np.asarray(force, float)

    def predict(pts):
        x = pts - np.asarray(problem.CENTRE)
        r2 = np.sum(x ** 2, axis=1, keepdims=True)
        xf = x @ force[:, None]
        stokeslet = (-0.5 * np.log(r2) * force + x * xf / r2) / (4 * math.pi * mu)
        dipole = -r0 ** 2 / (4 * mu) * (-force / r2 + 2 * x * xf / r2 ** 2) / (2 * math.pi)
        uniform = force * (math.log(r0) - 0.5) / (4 * math.pi * mu)
        return np.concatenate([stokeslet + dipole + uniform, xf / (2 * math.pi * r2)], axis=1)

    return predict


def test_cylinder_volume_and_surface_forces_of_an_exact_stokes_flow():
    """A flow that solves the equations (Stokes: ν so large that ρ u·∇u is below 1e-8 of the viscous
    terms) has the same force by the volume form, whatever the weight's support, and by the surface
    integral: minus the Stokeslet's strength, drag and lift."""
    p = Cylinder(nu=1e6, density=1.3)
    force = np.array([0.3, -0.7]) * p.rho * p.nu
    predict = _stokes_flow_past_cylinder(p, force)
    assert np.abs(predict(np.asarray(p.CENTRE) + p.RADIUS * np.array([[1.0, 0.0], [0.6, -0.8]]))[:, :2]).max() < 1e-12
    np.testing.assert_allclose(p.forces(predict, method="surface"), -force, rtol=1e-6)
    for outer in (1.5, 3.0, 4.0):
        np.testing.assert_allclose(p.forces(predict, outer=outer), -force, rtol=1e-7)


def test_cylinder_lift_of_potential_flow_is_kutta_joukowski():
    """Potential flow past the cylinder with circulation Γ (counter-clockwise), pressure by Bernoulli:
    it solves Navier-Stokes (ν ∇²u = 0), so the volume form gives the force at any ν: lift
    F_y = -ρ U Γ (Kutta-Joukowski), drag 0 (d'Alembert), C_L > 0 upwards as in Schäfer & Turek. The
    surface integral assumes no slip, which this flow does not have, so it is checked at negligible ν
    (its pressure part)."""
    rho, speed, gamma = 1.2, 0.25, -0.04
    p, inviscid = Cylinder(density=rho), Cylinder(nu=1e-12, density=rho)
    (xc, yc), r0 = p.CENTRE, p.RADIUS

    def predict(pts):
        z = (pts[:, 0] - xc) + 1j * (pts[:, 1] - yc)
        w = speed * (1 - r0 ** 2 / z ** 2) - 1j * gamma / (2 * math.pi * z)  # u - i v
        pressure = 0.5 * rho * (speed ** 2 - np.abs(w) ** 2)
        return np.stack([w.real, -w.imag, pressure], axis=1)

    for fx, fy in (p.forces(predict), inviscid.forces(predict, method="surface")):
        assert fy == pytest.approx(-rho * speed * gamma, rel=1e-6)
        assert abs(fx) < 1e-6 * abs(fy)
    assert p.metrics(predict)["lift_coefficient"] == pytest.approx(-2 * speed * gamma / (0.2 ** 2 * 0.1), rel=1e-6)


def test_cavity_corner_weight():
    """Residuals are weighted by min(1, (r/δ)²) near the top corners of a uniform lid only."""
    x = torch.tensor([[0.01, 0.99], [0.5, 0.5], [0.98, 0.97]], dtype=torch.float64)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    plain = LidDrivenCavity(corner_radius=0.0).residual(AutogradFields(net, x, ("x", "y"), ("u", "v", "p")))
    weighted = LidDrivenCavity(corner_radius=0.05).residual(AutogradFields(net, x, ("x", "y"), ("u", "v", "p")))
    expected = torch.tensor([(0.01 ** 2 + 0.01 ** 2) / 0.05 ** 2, 1.0, (0.02 ** 2 + 0.03 ** 2) / 0.05 ** 2],
                            dtype=torch.float64)
    for key in plain:
        torch.testing.assert_close(weighted[key], plain[key] * expected)
    smooth = LidDrivenCavity(lid="regularised").residual(AutogradFields(net, x, ("x", "y"), ("u", "v", "p")))
    torch.testing.assert_close(smooth["continuity"], plain["continuity"])


def test_stokes_corner_flow():
    """The corner flow solves Stokes (unit viscosity) exactly, meets the sliding and the fixed wall's
    data, and depends on the direction only (velocity) or like 1/r (pressure)."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(100, 2, generator=g, dtype=torch.float64) * 2).requires_grad_(True)

    def grad(f):
        return torch.autograd.grad(f.sum(), x, create_graph=True)[0]

    us, ut, p = stokes_corner(x[:, 0], x[:, 1])
    gs, gt, gp = grad(us), grad(ut), grad(p)
    lap_s = grad(gs[:, 0])[:, 0] + grad(gs[:, 1])[:, 1]
    lap_t = grad(gt[:, 0])[:, 0] + grad(gt[:, 1])[:, 1]
    assert (gs[:, 0] + gt[:, 1]).abs().max() < 1e-12
    assert (gp[:, 0] - lap_s).abs().max() < 1e-9 and (gp[:, 1] - lap_t).abs().max() < 1e-9
    assert lap_s.abs().max() > 1.0  # not trivially harmonic: the pressure gradient balances it
    d = torch.linspace(0.1, 3.0, 7, dtype=torch.float64)
    sliding, fixed = stokes_corner(d, 0 * d), stokes_corner(0 * d, d)
    torch.testing.assert_close(sliding[0], torch.ones_like(d), rtol=0, atol=1e-14)
    assert sliding[1].abs().max() < 1e-14 and fixed[0].abs().max() < 1e-14 and fixed[1].abs().max() < 1e-14
    y = x.detach()
    near = stokes_corner(1e-3 * y[:, 0], 1e-3 * y[:, 1])
    far = stokes_corner(y[:, 0], y[:, 1])
    torch.testing.assert_close(near[0], far[0])
    torch.testing.assert_close(near[1], far[1])
    torch.testing.assert_close(near[2], 1e3 * far[2])
    at = stokes_corner(torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    assert [float(v) for v in at] == [0.0, 0.0, 0.0]  # the corner point: the fixed wall's velocity


def test_cavity_constraint_contains_the_corner_flow():
    """Near a uniform lid's top corners the constrained field tends to the Stokes corner flow whatever
    the network, with ``corner_flow="stokes"`` (and not with the blend)."""
    L, U, re = 2.0, 0.5, 100.0
    angles = torch.linspace(0.1, 1.4, 6, dtype=torch.float64)
    r = 1e-7 * L
    left = torch.stack([r * torch.cos(angles), L - r * torch.sin(angles)], 1)
    right = torch.stack([L - r * torch.cos(angles), L - r * torch.sin(angles)], 1)
    us, ut, p = stokes_corner(torch.cos(angles), torch.sin(angles))
    stokes = _constrained(LidDrivenCavity(re=re, length=L, lid_velocity=U, density=1.2), torch.cat([left, right]))
    torch.testing.assert_close(stokes[:, 0], U * torch.cat([us, us]), rtol=0, atol=1e-5)
    torch.testing.assert_close(stokes[:, 1], U * torch.cat([-ut, ut]), rtol=0, atol=1e-5)
    # pressure ~ ρU²/Re P(θ) L/r: suction where the lid leaves the corner, the opposite where it arrives
    torch.testing.assert_close(stokes[:, 2] * r / L, 1.2 * U ** 2 / re * torch.cat([p, -p]), rtol=1e-5, atol=0)
    blend = _constrained(LidDrivenCavity(re=re, length=L, lid_velocity=U, corner_flow="blend"), left)
    assert (blend[:, 0] - U * us).abs().max() > 0.05
