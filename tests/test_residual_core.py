"""The residual core: both engines against plain nested torch.autograd, in float64, to 1e-10."""

from __future__ import annotations

import itertools

import pytest
import torch

from sciml.fields import AutogradFields, Plan, TaylorFields, discover_plan
from sciml.networks import ACTIVATIONS, MLP, HardConstraint, Network, _Tanh

INPUTS = ("x", "y", "t")
OUTPUTS = ("u", "v")
KEYS = [()] + [(i,) for i in range(3)] + [(i, j) for i in range(3) for j in range(i, 3)]
TOL = 1e-10


def _torch_derivatives(net, x):
    """Reference: every derivative up to second order of every output by nested autograd.grad."""
    x = x.detach().requires_grad_(True)
    y = net(x)
    ref = {}
    for k in range(y.shape[1]):
        ref[(k, ())] = y[:, k]
        (g,) = torch.autograd.grad(y[:, k].sum(), x, create_graph=True)
        for i in range(x.shape[1]):
            ref[(k, (i,))] = g[:, i]
            (h,) = torch.autograd.grad(g[:, i].sum(), x, create_graph=True)
            for j in range(i, x.shape[1]):
                ref[(k, (i, j))] = h[:, j]
    return ref


def _constraint():
    return HardConstraint(
        particular=lambda x: torch.stack([torch.sin(x[:, 0]) * x[:, 2], torch.cos(x[:, 1])], dim=1),
        distance=lambda x: (x[:, :1] ** 2 * torch.cos(x[:, 1:2]) + 0.5) * x[:, 2:3],
    )


def _network(activation, fourier, constrained, seed):
    torch.manual_seed(seed)
    body = MLP(3, 2, width=12, depth=3, activation=activation, lower=[-1, 0, 0], upper=[1, 2, 1],
               fourier_features=fourier, fourier_scale=0.7)
    return Network(body, _constraint() if constrained else None).double()


def _max_rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def _max_rel_pointwise(a, b):
    return ((a - b).abs() / b.abs().clamp_min(1e-300)).max().item()


def _by_name(f, k, key):
    wrt = [INPUTS[i] for i in key]
    return f.d(OUTPUTS[k], *wrt) if wrt else f[OUTPUTS[k]]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("fourier", [0, 6])
@pytest.mark.parametrize("constrained", [False, True])
def test_engines_match_torch_autograd(activation, fourier, constrained):
    # a fixed seed per case (str hashes change from process to process: a failure could not be rerun)
    net = _network(activation, fourier, constrained, seed=4 * sorted(ACTIVATIONS).index(activation) + 2 * bool(fourier) + constrained)
    x = torch.rand(40, 3, dtype=torch.float64) * torch.tensor([2.0, 2.0, 1.0], dtype=torch.float64) - torch.tensor(
        [1.0, 0.0, 0.0], dtype=torch.float64)
    ref = _torch_derivatives(net, x)
    plan = Plan.from_keys(KEYS)
    cj = net.constraint.jets(x, plan, INPUTS, OUTPUTS) if constrained else None
    taylor = TaylorFields(net.jet(x, plan, cj), plan, x, INPUTS, OUTPUTS)
    auto = AutogradFields(net, x, INPUTS, OUTPUTS)
    for (k, key), expected in ref.items():
        for engine in (taylor, auto):
            got = _by_name(engine, k, key)
            err = _max_rel(got, expected)
            assert err < TOL, f"{type(engine).__name__} {OUTPUTS[k]} d{key}: rel. error {err:.2e}"


def test_mixed_partials_and_laplacian():
    net = _network("tanh", 0, True, seed=3)
    x = torch.rand(25, 3, dtype=torch.float64)
    plan = Plan.from_keys(KEYS)
    f = TaylorFields(net.jet(x, plan, net.constraint.jets(x, plan, INPUTS, OUTPUTS)), plan, x, INPUTS, OUTPUTS,
                     spatial=("x", "y"))
    ref = _torch_derivatives(net, x)
    assert torch.equal(f.d("u", "x", "t"), f.d("u", "t", "x"))
    assert _max_rel(f.d("v", "t", "y"), ref[(1, (1, 2))]) < TOL
    lap = ref[(0, (0, 0))] + ref[(0, (1, 1))]
    assert _max_rel(f.laplacian("u"), lap) < TOL
    assert _max_rel(f.laplacian("u", over=("t",)), ref[(0, (2, 2))]) < TOL


def test_autograd_engine_computes_each_gradient_once(monkeypatch):
    net = _network("tanh", 0, False, seed=1)
    x = torch.rand(10, 3, dtype=torch.float64)
    calls = []
    real = torch.autograd.grad

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting)
    f = AutogradFields(net, x, INPUTS, OUTPUTS)
    f.d("u", "x"), f.d("u", "t"), f.d("u", "y")  # one gradient of u serves all three
    assert len(calls) == 1
    f.d("u", "x", "x"), f.d("u", "x", "t"), f.d("u", "t", "x")  # one gradient of u_x serves these
    assert len(calls) == 2
    f.d("u", "x"), f.d("u", "x", "x")
    assert len(calls) == 2
    f.d("v", "y")
    assert len(calls) == 3


def test_plan_records_only_what_the_residual_asks_for():
    net = _network("tanh", 0, False, seed=2)
    x = torch.rand(10, 3, dtype=torch.float64)

    def residual(f):
        return f.d("u", "t") + f["u"] * f.d("u", "x") - 0.1 * f.d("u", "x", "x")

    plan = discover_plan(residual, net, x, INPUTS, OUTPUTS)
    assert plan == Plan(first=(0, 2), second=((0, 0),))
    assert plan.size == 4
    f = TaylorFields(net.jet(x, plan), plan, x, INPUTS, OUTPUTS)
    with pytest.raises(KeyError, match="u_yy was not in the plan"):
        f.d("u", "y", "y")


def test_fast_tanh_is_tanh_to_rounding():
    """The taylor engine's tanh formula against float64 torch.tanh, from 1e-300 to past the clamp."""
    z = torch.cat([torch.linspace(-30, 30, 200001, dtype=torch.float64),
                   torch.logspace(-300, 1.5, 3000, dtype=torch.float64)])
    z = torch.cat([z, -z, torch.zeros(1, dtype=torch.float64)]).requires_grad_(True)
    exact = torch.tanh(z.detach())
    s = _Tanh.apply(z)
    assert _max_rel_pointwise(s.detach(), exact) < 1e-15
    z32 = z.detach().float()
    assert _max_rel_pointwise(_Tanh.apply(z32).double(), torch.tanh(z32.double())) < 2e-7  # float32: ~2 ulp
    (grad,) = torch.autograd.grad(s.sum(), z)
    assert _max_rel(grad, 1 - exact * exact) < 1e-15
    assert torch.isnan(_Tanh.apply(torch.tensor([float("nan")]))).all()


def test_taylor_engine_under_torch_compile():
    net = _network("tanh", 4, True, seed=5)
    x = torch.rand(30, 3, dtype=torch.float64)
    plan = Plan.from_keys(KEYS)
    cj = net.constraint.jets(x, plan, INPUTS, OUTPUTS)

    def residual(x, cj):
        f = TaylorFields(net.jet(x, plan, cj), plan, x, INPUTS, OUTPUTS)
        return f.d("u", "t") + f["u"] * f.d("u", "x") - 0.3 * f.laplacian("v", over=("x", "y"))

    compiled = torch.compile(residual, fullgraph=True)
    expected = residual(x, cj)
    got = compiled(x, cj)
    assert _max_rel(got, expected) < TOL
    # gradients through the compiled graph match too
    g_eager = torch.autograd.grad(expected.square().mean(), list(net.parameters()))
    g_comp = torch.autograd.grad(compiled(x, cj).square().mean(), list(net.parameters()))
    for a, b in zip(g_comp, g_eager):
        assert _max_rel(a, b) < 1e-9


def test_bad_names_and_shapes_are_clear():
    net = _network("tanh", 0, False, seed=0)
    x = torch.rand(5, 3, dtype=torch.float64)
    f = AutogradFields(net, x, INPUTS, OUTPUTS)
    with pytest.raises(KeyError, match="unknown output 'p'"):
        f["p"]
    with pytest.raises(KeyError, match="unknown input 'z'"):
        f.d("u", "z")
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        AutogradFields(net, torch.rand(5, 2, dtype=torch.float64), INPUTS, OUTPUTS)
    with pytest.raises(ValueError, match="up to second order"):
        Plan.from_keys([(0, 0, 0)])
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        MLP(2, 1, activation="relu6")
    assert torch.equal(f["t"], x[:, 2])  # inputs are readable by name


@pytest.mark.parametrize("first,second", list(itertools.product([0, 1], [0, 1])))
def test_partial_plans(first, second):
    """Plans carrying only some derivatives give exactly those, still matching autograd."""
    keys = [()] + [(0,)] * first + [(1, 2)] * second
    plan = Plan.from_keys(keys)
    net = _network("silu", 0, False, seed=7)
    x = torch.rand(9, 3, dtype=torch.float64)
    f = TaylorFields(net.jet(x, plan), plan, x, INPUTS, OUTPUTS)
    ref = _torch_derivatives(net, x)
    for key in plan.keys():
        assert _max_rel(_by_name(f, 0, key), ref[(0, key)]) < TOL


def test_first_derivatives_of_several_outputs_without_create_graph():
    """create_graph=False (first derivatives only, e.g. hard-constraint jets of a multi-output
    transform): every output's gradient comes out, not only the first one's."""
    x = torch.rand(5, 2, dtype=torch.float64)
    f = AutogradFields(lambda z: torch.stack([z[:, 0] ** 2 * z[:, 1], torch.sin(z[:, 1])], dim=1), x, ("x", "y"),
                       ("a", "b"), create_graph=False)
    torch.testing.assert_close(f.d("a", "x"), 2 * x[:, 0] * x[:, 1])
    torch.testing.assert_close(f.d("b", "y"), torch.cos(x[:, 1]))
