"""Checkpoints (issue 19): every solver resumes exactly where it was interrupted, checkpoints are also
written on a time interval, a process killed while writing one leaves a checkpoint that loads, and a
run killed with SIGKILL after a checkpoint and resumed ends with the uninterrupted run's losses to
the last digit."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from sciml import storage
from sciml.problems import Burgers, Convection, Poisson
from sciml.problems.diesel import DieselEngine
from sciml.problems.pendulum import Pendulum, PendulumControl
from sciml.solvers import PINN, CausalPINN, MultiDomainPINN
from sciml.solvers.controller import Controller
from sciml.solvers.hypersolver import HyperSolver
from sciml.solvers.lagrangian import LagrangianPINN
from sciml.solvers.neural_ode import NeuralODE
from sciml.solvers.ode_pinn import ODEPinn
from sciml.training import TrainConfig, Trainer

PDE = dict(width=8, depth=2, n_interior=96, n_boundary=24, compile=False, native=False, progress=False,
           device="cpu", checkpoint_every=2)
SOLVERS = {
    "pinn": (lambda: PINN(Burgers(), iterations=6, lbfgs_iterations=6, lbfgs_chunk=2, resample_every=2, **PDE), 5),
    "causal-windows": (lambda: CausalPINN(Convection(beta=1.0), windows=2, chunks=2, iterations=4, **PDE), 6),
    "lagrangian": (lambda: LagrangianPINN(Convection(beta=1.0), n_curves=64, iterations=6, **PDE), 4),
    "multidomain": (lambda: MultiDomainPINN(Poisson(), n_interface=8, iterations=6, lbfgs_iterations=4, lbfgs_chunk=2,
                                            **PDE), 4),
    "neural-ode": (lambda: NeuralODE(Pendulum(), width=8, depth=1, n_trajectories=4, n_observations=12, batch=4,
                                     iterations=6, checkpoint_every=2, progress=False), 4),
    "hypersolver": (lambda: HyperSolver(Pendulum(), width=8, n_samples=64, iterations=6, checkpoint_every=2,
                                        progress=False), 4),
    "controller": (lambda: Controller(PendulumControl(), method="euler", width=8, n_initial=32, batch=8,
                                      iterations=6, checkpoint_every=2, progress=False), 4),
    "controller-hypereuler": (lambda: Controller(PendulumControl(), width=8, n_initial=32, batch=8, iterations=6,
                                                 hyper_iterations=3, hyper_samples=64, checkpoint_every=2,
                                                 progress=False), 4),
    "ode-pinn-self-adaptive": (lambda: ODEPinn(DieselEngine(duration=4.0, hold=2.0, command_seed=3)
                                               .identify(["A_egrmax"], {"A_egrmax": 3e-4}), self_adaptive=True,
                                               width=8, n_collocation=20, iterations=6, lbfgs_iterations=4,
                                               baseline=False, checkpoint_every=2, progress=False), 4),
}
"""Solver factories on tiny budgets, and the record after which a run is interrupted."""


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _losses(history):
    return [(h["phase"], h["step"], h["loss"]) for h in history]


@pytest.mark.parametrize("name", list(SOLVERS))
def test_every_solver_resumes_exactly(tmp_path, name, interrupt_after):
    make, cut = SOLVERS[name]
    full_solver = make()
    full = full_solver.train(out=tmp_path / "full")
    first = make().train(out=tmp_path / "cut", callbacks=[interrupt_after(cut)])
    assert first.interrupted and len(first.history) < len(full.history)
    resumed_solver = make()
    resumed = resumed_solver.train(out=tmp_path / "cut", resume=True)
    assert not resumed.interrupted
    assert _losses(resumed.history) == _losses(full.history)
    expected = full.model.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in resumed.model.state_dict().items())
    if name == "neural-ode":  # the solver's own state travels too: function evaluations per step
        assert resumed_solver.train_nfe == full_solver.train_nfe


def _toy(checkpoint: Path, **config):
    model = torch.nn.Linear(3, 1)
    return Trainer(model, lambda: {"q": (model.weight ** 2).sum()},
                   TrainConfig(iterations=6, checkpoint_every=0, progress=False, **config), checkpoint=checkpoint)


def test_checkpoints_are_also_written_on_a_time_interval(tmp_path):
    """With checkpoint_every=0, a checkpoint after every step once the interval (here a few
    nanoseconds) has passed; with an hour's interval (or 0: off), only the final one."""
    for minutes, expected in ((1e-10, [None, 1, 2, 3, 4, 5]), (60.0, [None] * 6), (0.0, [None] * 6)):
        path = tmp_path / f"{minutes}.pt"
        trainer = _toy(path, checkpoint_minutes=minutes)
        seen = []
        trainer.callbacks.append(lambda t, record: seen.append(
            storage.read(path, "checkpoint")["state"]["step"] if path.exists() else None))
        trainer.run()
        assert seen == expected, minutes
        assert storage.read(path, "checkpoint")["state"]["phase"] == "done"  # and one at the end
    with pytest.raises(ValueError, match="checkpoint_minutes must be a finite number >= 0, got -1"):
        TrainConfig(checkpoint_minutes=-1)


def test_every_solver_takes_checkpoint_minutes():
    for make, _ in SOLVERS.values():
        solver = make()
        assert solver.settings["checkpoint_minutes"] == 5.0 and solver.config.checkpoint_minutes == 5.0


def _child(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@contextmanager
def _running(code: str, *args: str):
    """A Python process running ``code``, killed on the way out whatever happens in the test."""
    proc = subprocess.Popen(_child(code, *args), env=ENV, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_for(condition, proc, seconds: float = 60.0) -> None:
    """Poll ``condition()`` every millisecond while ``proc`` runs; fail if it exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"the process exited (code {proc.returncode}) before the awaited file appeared"
        assert time.monotonic() < deadline, f"the awaited file did not appear within {seconds} s"
        time.sleep(0.001)


WRITER = """
import sys, torch
from sciml.training import TrainConfig, Trainer
torch.manual_seed(0)
model = torch.nn.Linear(1500, 1500)  # a 27 MB checkpoint (weights and Adam's two moments): writing it takes a while
Trainer(model, lambda: {"q": (model.weight ** 2).mean()},
        TrainConfig(iterations=10 ** 6, checkpoint_every=1, progress=False), checkpoint=sys.argv[1]).run()
"""


def test_a_process_killed_while_writing_a_checkpoint_leaves_one_that_loads(tmp_path):
    """SIGKILL lands while a checkpoint is being written over an earlier one (its temporary file
    exists); the checkpoint on disk is then the earlier, complete one, and a run resumes from it."""
    path = tmp_path / "checkpoint.pt"
    partial = path.with_name(path.name + ".tmp")
    pause = random.Random(0)
    mid_write = 0
    for attempt in range(10):
        partial.unlink(missing_ok=True)
        with _running(WRITER, str(path)) as proc:
            # the first writer completes a checkpoint first; every writer is then killed during a write
            _wait_for(lambda: path.exists() and partial.exists(), proc)
            time.sleep(pause.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
        mid_write += partial.exists()
        model = torch.nn.Linear(1500, 1500)
        trainer = Trainer(model, lambda: {"q": (model.weight ** 2).mean()}, TrainConfig(progress=False))
        trainer.load(path)
        assert trainer.state.step >= 1
        if mid_write >= 2:
            break
    assert mid_write >= 2, f"only {mid_write} of {attempt + 1} kills landed during a write"


RUN = """
import json, sys, torch
torch.set_num_threads(1)
from sciml.problems import Burgers
from sciml.solvers import PINN
settings = dict(width=8, depth=2, n_interior=128, n_boundary=32, iterations=150, lbfgs_iterations=10, lbfgs_chunk=5,
                resample_every=25, checkpoint_every=10, compile=False, native=False, progress=False, device="cpu")
for out, how in zip(sys.argv[1::2], sys.argv[2::2]):  # runs one after the other: (folder, fresh|resume) pairs
    result = PINN(Burgers(), **settings).train(out=out, resume=how == "resume")
    print(json.dumps([[r["phase"], r["step"], r["loss"]] for r in result.history]))
"""


def test_kill_9_after_a_checkpoint_then_resume_gives_the_uninterrupted_losses(tmp_path):
    killed = tmp_path / "killed"
    with _running(RUN, str(killed), "fresh") as proc:
        _wait_for((killed / "checkpoint.pt").exists, proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    kept = storage.read(killed / "checkpoint.pt", "checkpoint")["state"]
    assert kept["phase"] == "adam" and 10 <= kept["step"] < 150
    # a new process resumes the killed run, then makes the same run from scratch, uninterrupted
    done = subprocess.run(_child(RUN, str(killed), "resume", str(tmp_path / "full"), "fresh"), env=ENV,
                          capture_output=True, text=True, check=True)
    resumed, full = (json.loads(line) for line in done.stdout.splitlines())
    assert len(full) == 150 + 2 and resumed == full
    assert repr(resumed[-1][2]) == repr(full[-1][2])
