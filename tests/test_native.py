"""The native CPU kernel (sciml.native) against the taylor engine's PyTorch path, in float64 to 1e-10."""

from __future__ import annotations

import pytest
import torch

from sciml import native, taylor
from sciml.fields import Plan
from sciml.networks import MLP
from sciml.problems import Burgers
from sciml.solvers import PINN

TOL = 1e-10


def _mlp(in_dim, out_dim, width, depth, seed):
    torch.manual_seed(seed)
    lower, upper = [-1.0 - i for i in range(in_dim)], [1.0 + 2 * i for i in range(in_dim)]
    return MLP(in_dim, out_dim, width=width, depth=depth, lower=lower, upper=upper).double()


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_kernel_builds_here():
    assert native.available(), native.unavailable_reason()


@pytest.mark.parametrize("in_dim,out_dim,width,depth,first,second,n", [
    (2, 1, 64, 4, (0, 1), ((0, 0),), 2540),          # Burgers: u, u_x, u_t, u_xx
    (2, 3, 20, 3, (0, 1), ((0, 0), (0, 1), (1, 1)), 777),  # every second derivative, several outputs
    (3, 2, 16, 2, (0, 2), ((2, 2),), 1),             # one point; a derivative by the last input only
    (3, 1, 8, 1, (), (), 300),                       # values only (condition points), one hidden layer
])
@pytest.mark.parametrize("threads", [1, 2])
def test_jets_and_parameter_gradients_match_the_taylor_engine(in_dim, out_dim, width, depth, first, second, n,
                                                               threads):
    net = _mlp(in_dim, out_dim, width, depth, seed=n + width)
    plan = Plan(first=first, second=second)
    torch.manual_seed(1)
    x = torch.rand(n, in_dim, dtype=torch.float64) * 4 - 2  # also outside the box the MLP maps to [-1, 1]
    params = list(net.parameters())
    ref = torch.stack(taylor.full(net.jet(taylor.input_jet(x, plan), plan)))
    weight = torch.randn_like(ref)
    ref_grads = torch.autograd.grad((ref * weight).sum(), params)

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net.native = True
        got = torch.stack(net.jet_at(x, plan))
        grads = torch.autograd.grad((got * weight).sum(), params)
    finally:
        torch.set_num_threads(before)
    assert _rel(got, ref) < TOL
    for g, r in zip(grads, ref_grads):
        assert _rel(g, r) < TOL


def test_gradients_do_not_depend_on_which_thread_ran_which_block():
    net = _mlp(2, 1, 32, 3, seed=0).float()
    net.native = True
    x = torch.rand(5000, 2)
    plan = Plan(first=(0, 1), second=((0, 0),))
    runs = []
    for _ in range(3):
        out = torch.stack(net.jet_at(x, plan))
        runs.append(torch.autograd.grad(out.square().sum(), list(net.parameters())))
    for other in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_solver_uses_it_where_it_would_not_compile_and_gets_the_same_loss_and_gradients():
    long_run = PINN(Burgers(), iterations=5000, device="cpu", progress=False)
    long_run.setup()
    assert long_run.native is False  # compile="auto" compiles a run this long: no native kernel
    losses, grads = {}, {}
    for use in (False, "auto"):
        solver = PINN(Burgers(enforce="soft"), width=24, depth=3, n_interior=500, iterations=500, lbfgs_iterations=0, native=use,
                      dtype="float64", device="cpu", progress=False)
        solver.setup()
        assert solver.native is (use == "auto")
        total = sum(solver.loss().values())
        losses[use] = total.item()
        grads[use] = torch.autograd.grad(total, list(solver.model.parameters()))
    assert abs(losses["auto"] - losses[False]) <= TOL * abs(losses[False])
    for a, b in zip(grads["auto"], grads[False]):
        assert _rel(a, b) < TOL


def test_unsupported_networks_fall_back_or_say_why():
    auto = PINN(Burgers(), activation="sin", width=8, depth=2, compile=False, device="cpu", progress=False)
    auto.setup()
    assert auto.native is False
    forced = PINN(Burgers(), activation="sin", width=8, depth=2, native=True, device="cpu", progress=False)
    with pytest.raises(ValueError, match="native=True, but .*activation is 'sin'"):
        forced.setup()
    with pytest.raises(ValueError, match="native must be 'auto', True or False, got 'yes'"):
        PINN(Burgers(), native="yes")
    with pytest.raises(ValueError, match="exclude each other"):
        PINN(Burgers(), native=True, compile=True)


def test_points_that_need_a_gradient_take_the_pytorch_path():
    net = _mlp(2, 1, 8, 2, seed=3)
    net.native = True
    plan = Plan(first=(0,), second=((0, 0),))
    x = torch.rand(50, 2, dtype=torch.float64, requires_grad=True)
    jet = net.jet_at(x, plan)
    (gx,) = torch.autograd.grad(jet[2].sum(), x)  # d/dx of u_xx: only the PyTorch path gives it
    assert gx.shape == x.shape and bool(gx.abs().sum() > 0)


def test_a_second_backward_through_one_forward_is_refused():
    net = _mlp(2, 1, 8, 2, seed=4)
    net.native = True
    out = torch.stack(net.jet_at(torch.rand(20, 2, dtype=torch.float64), Plan(first=(0,), second=())))
    loss = out.square().sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backward ran twice"):
        loss.backward()


def test_bad_shapes_are_named():
    ext = native.module()
    x = torch.rand(10, 2, dtype=torch.float64)
    w1, w2 = torch.rand(8, 3, dtype=torch.float64), torch.rand(1, 8, dtype=torch.float64)
    b1, b2 = torch.rand(8, dtype=torch.float64), torch.rand(1, dtype=torch.float64)
    c, h = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    ws = torch.empty(1000, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="a layer expects 3 inputs, the previous one gives 2"):
        ext.forward(x, c, h, [w1, w2], [b1, b2], [0], [], [], 10, ws)
    with pytest.raises(RuntimeError, match="refers to a first derivative that is not computed"):
        ext.forward(x, c, h, [w1[:, :2].contiguous(), w2], [b1, b2], [0], [0], [1], 10, ws)


@pytest.mark.parametrize("width,n", [(48, 1001), (64, 2540), (20, 333)])
def test_float32_products_match_float64_to_float32_rounding(width, n):
    """float32 runs its own vectorised products for widths that are multiples of 16 (48: a 32- and a
    16-wide tile; row counts that leave tails), BLAS otherwise (20); both against float64."""
    net64 = _mlp(2, 1, width, 3, seed=width)
    net32 = _mlp(2, 1, width, 3, seed=width).float()
    plan = Plan(first=(0, 1), second=((0, 0),))
    torch.manual_seed(2)
    x = torch.rand(n, 2, dtype=torch.float64) * 2 - 1
    ref = torch.stack(taylor.full(net64.jet(taylor.input_jet(x, plan), plan)))
    weight = torch.randn_like(ref)
    ref_grads = torch.autograd.grad((ref * weight).sum(), list(net64.parameters()))
    net32.native = True
    got = torch.stack(net32.jet_at(x.float(), plan))
    grads = torch.autograd.grad((got * weight.float()).sum(), list(net32.parameters()))
    assert _rel(got.double(), ref) < 1e-5
    for g, r in zip(grads, ref_grads):
        assert _rel(g.double(), r) < 1e-4
