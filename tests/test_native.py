"""The native CPU kernel (sciml.native) against the taylor engine's PyTorch path, in float64 to 1e-10."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import warnings
from pathlib import Path

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


@pytest.fixture
def kernel():
    """Skip, naming the reason, where the kernel cannot be built (see sciml.native)."""
    if not native.available():
        pytest.skip(f"the native kernel is not available here: {native.unavailable_reason()}")


@pytest.mark.parametrize("in_dim,out_dim,width,depth,first,second,n", [
    (2, 1, 64, 4, (0, 1), ((0, 0),), 2540),          # Burgers: u, u_x, u_t, u_xx
    (2, 3, 20, 3, (0, 1), ((0, 0), (0, 1), (1, 1)), 777),  # every second derivative, several outputs
    (3, 2, 16, 2, (0, 2), ((2, 2),), 1),             # one point; a derivative by the last input only
    (3, 1, 8, 1, (), (), 300),                       # values only (condition points), one hidden layer
])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.usefixtures("kernel")
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


@pytest.mark.usefixtures("kernel")
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


@pytest.mark.usefixtures("kernel")
def test_solver_uses_it_only_when_asked_and_gets_the_same_loss_and_gradients():
    for use, iterations, expected in ((False, 500, False), ("auto", 5000, False), (True, 5000, True)):
        solver = PINN(Burgers(), iterations=iterations, lbfgs_iterations=0, native=use, device="cpu", progress=False)
        solver.setup()
        assert solver.native is expected, (use, iterations)  # "auto": not where compile="auto" compiles
    default = PINN(Burgers(), iterations=500, lbfgs_iterations=0, device="cpu", progress=False)
    default.setup()
    assert default.settings["native"] is False and default.native is False  # an opt-in
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


@pytest.mark.usefixtures("kernel")
def test_a_second_backward_through_one_forward_is_refused():
    net = _mlp(2, 1, 8, 2, seed=4)
    net.native = True
    out = torch.stack(net.jet_at(torch.rand(20, 2, dtype=torch.float64), Plan(first=(0,), second=())))
    loss = out.square().sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backward ran twice"):
        loss.backward()


@pytest.mark.usefixtures("kernel")
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
@pytest.mark.usefixtures("kernel")
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


# -- building: where it cannot, the cache key, remembered failures --------------------------------

def test_the_build_key_changes_with_everything_the_binary_depends_on(monkeypatch, tmp_path):
    monkeypatch.setenv("SCIML_CACHE", str(tmp_path))
    base = native.build_key()
    assert "-march=native" in base["flags"] and base["machine"] == platform.machine()
    where = native.build_directory(base)
    assert where.parent == tmp_path / "native" and where.name.startswith(platform.machine())
    source = tmp_path / "jet_mlp.cpp"
    source.write_text(native._SOURCE.read_text() + "\n// one more line\n")
    changes = {
        "machine": lambda m: m.setattr(platform, "machine", lambda: "aarch64"),
        "cpu_features": lambda m: m.setattr(native, "cpu_features", lambda: base["cpu_features"] + " avx512f"),
        "torch": lambda m: m.setattr(torch, "__version__", "9.9.9"),
        "compiler": lambda m: m.setattr(native, "compiler_identity", lambda cxx: "clang version 99"),
        "source": lambda m: m.setattr(native, "_SOURCE", source),
    }
    for part, change in changes.items():
        with monkeypatch.context() as m:
            change(m)
            key = native.build_key()
            assert {k for k in key if key[k] != base[k]} == {part}
            assert native.build_directory(key) != where, part
    assert native.build_directory(native.build_key()) == where  # and back once the changes are undone


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file() or platform.machine() != "x86_64",
                    reason="reads the flags of /proc/cpuinfo on x86-64 Linux")
def test_cpu_features_are_the_flags_of_proc_cpuinfo():
    line = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    assert native.cpu_features().split() == sorted(line.split(":", 1)[1].split())
    assert "sse2" in native.cpu_features().split()  # every x86-64 CPU has it


class _FailingLoad:
    """Stands in for torch.utils.cpp_extension.load: fails as a compiler error does, counting calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        raise RuntimeError("Error building extension 'sciml_jet_mlp': [1/2] c++ -c jet_mlp.cpp\n"
                           "jet_mlp.cpp:1:10: error: simulated compiler failure\nninja: build stopped")


def test_a_failed_build_is_remembered_and_retried_only_when_asked(monkeypatch, tmp_path, capsys):
    import torch.utils.cpp_extension as cpp_extension

    monkeypatch.setenv("SCIML_CACHE", str(tmp_path))
    monkeypatch.delenv(native.RETRY, raising=False)
    monkeypatch.setattr(native, "cannot_build", lambda: None)
    load = _FailingLoad()
    monkeypatch.setattr(cpp_extension, "load", load)
    monkeypatch.setattr(native, "_state", {})
    assert not native.available()
    reason = native.unavailable_reason()
    marker = native.build_directory(native.build_key()) / native.FAILED
    assert load.calls == 1 and marker.is_file()
    assert "error: simulated compiler failure" in reason and str(marker) in reason and native.RETRY in reason
    assert "compiling the C++ CPU kernel" in capsys.readouterr().err
    assert marker.read_text().splitlines()[0] in reason

    monkeypatch.setattr(native, "_state", {})  # as a new process starts
    assert not native.available()
    assert load.calls == 1  # not compiled again
    assert "error: simulated compiler failure" in native.unavailable_reason()
    assert "not retried" in native.unavailable_reason() and str(marker) in native.unavailable_reason()

    monkeypatch.setenv(native.RETRY, "1")
    monkeypatch.setattr(native, "_state", {})
    assert not native.available() and load.calls == 2
    monkeypatch.delenv(native.RETRY)

    marker.unlink()  # the other documented way to retry, here with a build that works
    built = object()
    monkeypatch.setattr(cpp_extension, "load", lambda **kwargs: built)
    monkeypatch.setattr(native, "_state", {})
    assert native.module() is built and native.unavailable_reason() is None and not marker.exists()


FAKE_COMPILER = """#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = "--version" ] || [ "$1" = "-v" ]; then echo "fake-c++ 1.0"; exit 0; fi
echo "fake-c++: error: simulated compiler failure" >&2
exit 1
"""


@pytest.mark.skipif(native.cannot_build() is not None, reason=f"the kernel cannot be built here: {native.cannot_build()}")
def test_a_new_process_does_not_compile_again_after_a_failed_build(tmp_path):
    log = tmp_path / "compiler.log"
    fake = tmp_path / "fake-c++"
    fake.write_text(FAKE_COMPILER.format(log=log))
    fake.chmod(0o755)
    env = {**os.environ, "CXX": str(fake), "SCIML_CACHE": str(tmp_path / "cache")}
    env.pop(native.RETRY, None)
    probe = "from sciml import native; print(native.available()); print(native.unavailable_reason())"

    def new_process():
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        compiles = [line for line in log.read_text().splitlines() if "jet_mlp.cpp" in line]
        return done.stdout.splitlines(), done.stderr, len(compiles)

    (first, err, compiles) = new_process()
    assert first[0] == "False" and "compiling the C++ CPU kernel" in err
    assert compiles >= 1 and "error: simulated compiler failure" in first[1] and native.RETRY in first[1]
    (second, err, compiles_after) = new_process()
    assert second[0] == "False" and "not retried" in second[1] and native.FAILED in second[1]
    assert compiles_after == compiles and "compiling" not in err


def test_without_the_kernel_pinn_warns_once_and_trains_as_native_false(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")  # no compiler: the kernel cannot be built
    monkeypatch.setattr(native, "_state", {})
    assert not native.available()
    reason = native.unavailable_reason()
    if platform.system() == "Linux" and platform.machine() == "x86_64":  # elsewhere an earlier check says why
        assert "'/nonexistent/c++' cannot be run" in reason or "glibc" in reason

    def solver(use):
        return PINN(Burgers(enforce="soft"), width=16, depth=2, n_interior=300, n_boundary=50, iterations=20,
                    lbfgs_iterations=0, compile=False, native=use, dtype="float64", device="cpu", progress=False)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [solver("auto").train(), solver("auto").train()]
    about = [w for w in caught if "sciml.native" in str(w.message)]
    assert len(about) == 1 and reason in str(about[0].message) and "PyTorch path" in str(about[0].message)
    plain = solver(False).train()
    for run in runs:
        assert run.solver.native is False
        assert [r["loss"] for r in run.history] == [r["loss"] for r in plain.history]
        for a, b in zip(run.model.parameters(), plain.model.parameters()):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match=f"native=True, but the native kernel cannot be used: .*{re.escape(reason)}"):
        solver(True).setup()
