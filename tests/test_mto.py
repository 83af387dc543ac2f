"""The multi-task optimisation trainer (solver ``mto``, issue 14): with no auxiliary task, or with one
that can never help, T0 is the plain PINN bit for bit; a transfer never raises the target's own loss
and a rejected one changes nothing; T0 is the pinn solver's loss, observations included; it trains
other problems; it resumes exactly; bad settings are refused with one sentence."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from sciml import api, inverse, load
from sciml.problems import Burgers, Poisson
from sciml.problems.traffic import Traffic
from sciml.solvers.mto import MTO
from sciml.solvers.pinn import PINN

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

# dtype and optimizer given: Burgers' PINN default (float64, SSBroyden) is not the one MTO shares
SMALL = dict(width=12, depth=2, n_interior=300, lbfgs_iterations=0, eval_every=0, compile=False, native=False, progress=False,
             device="cpu", seed=3, dtype="float32", optimizer="adam-lbfgs")


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_without_auxiliary_tasks_the_main_task_is_the_plain_pinn_bit_for_bit():
    settings = dict(SMALL, iterations=200, resample_every=50)
    mto = MTO(Burgers(), tasks=[], round_steps=30, **settings).train()
    pinn = PINN(Burgers(), **settings).train()
    assert _same_weights(mto.model, pinn.model)
    assert [r["loss"] for r in mto.history] == [r["loss"] for r in pinn.history]
    # the rounds ran (after every 30 steps and after the last), with nothing to transfer
    rounds = [r["step"] for r in mto.history if "transfers" in r]
    assert rounds == [30, 60, 90, 120, 150, 180, 200]
    assert all(r["transfers"] == [] for r in mto.history if "transfers" in r)
    assert mto.solver.extra_metrics(mto)["transfers"] == 0


def test_an_auxiliary_task_identical_to_the_main_one_leaves_it_the_plain_pinn_bit_for_bit():
    # T1 = T0's loss on T0's points from T0's weights: it walks in step with T0, every candidate
    # (1 - a) theta + a theta equals theta, lowers no loss and is rejected. T0 is then the plain
    # PINN only if training T1 beside it (its resampling included) draws nothing from T0's streams.
    settings = dict(SMALL, resample_every=40)
    result = MTO(Burgers(), tasks=["weights:residual=1"], round_steps=25, iterations=200, **settings).train()
    pinn = PINN(Burgers(), iterations=100, **settings).train()
    assert _same_weights(result.model, pinn.model)
    solver = result.solver
    assert solver.tasks[1].trainer.state.step == 100 and _same_weights(solver.tasks[1].solver.model, result.model)
    transfers = [t for r in result.history for t in r.get("transfers", [])]
    assert len(transfers) == 8 and not any(t["accepted"] for t in transfers)
    assert all(t["loss_candidate"] == t["loss_before"] for t in transfers)


def test_a_transfer_never_raises_the_main_tasks_training_loss():
    solver = MTO(Burgers(), smooth="nu", tasks=["smooth:2", "smooth:4"], round_steps=10, alpha=0.5,
                 iterations=300, **SMALL)
    measured = []  # T0's loss before and after each transfer into it, measured here
    offer = solver.transfer

    def spy(target, source):
        before = solver.tasks[0].loss() if target == 0 else None
        record = offer(target, source)
        if target == 0:
            measured.append((before, solver.tasks[0].loss(), record))
        return record

    solver.transfer = spy
    result = solver.train()
    assert len(measured) == 10
    accepted = [m for m in measured if m[2]["accepted"]]
    assert 0 < len(accepted) < len(measured)  # both outcomes occur on this run
    for before, after, record in measured:
        assert after <= before and record["loss_before"] == before
        assert after == (record["loss_candidate"] if record["accepted"] else before)
    logged = [t for r in result.history for t in r.get("transfers", []) if t["target"] == 0]
    assert [t["accepted"] for t in logged] == [m[2]["accepted"] for m in measured]
    summary = solver.extra_metrics(result)
    assert summary["accepted_into_main"] == len(accepted) and summary["transfers_into_main"] == 10
    assert summary["adam_steps_total"] == 300 and summary["adam_steps_main"] == 100


def test_a_rejected_transfer_changes_nothing_and_an_accepted_one_resets_the_optimiser():
    solver = MTO(Burgers(), tasks=["points"], iterations=20, **SMALL)
    solver.setup()
    target = solver.tasks[1]
    for _ in range(5):
        target.trainer.adam_step()
    weights = {k: v.clone() for k, v in target.solver.model.state_dict().items()}
    moments = {id(p): {k: v.clone() for k, v in s.items()} for p, s in target.trainer.adam.state.items()}
    source = solver.tasks[0].solver.model
    with torch.no_grad():  # a source far from any solution: mixing it in raises the target's loss
        for p in source.parameters():
            p.mul_(30.0)
    record = solver.transfer(1, 0)
    assert not record["accepted"] and record["loss_candidate"] > record["loss_before"]
    assert all(torch.equal(v, weights[k]) for k, v in target.solver.model.state_dict().items())
    assert all(torch.equal(s[k], moments[id(p)][k]) for p, s in target.trainer.adam.state.items() for k in s)
    assert target.trainer.adam.state and solver.counts[1, 0, 1] == 1
    with torch.no_grad():  # now the target is the far one: moving it halfway back lowers its loss
        for p, q in zip(source.parameters(), target.solver.model.parameters()):
            p.div_(30.0)
            q.mul_(30.0)
    record = solver.transfer(1, 0)
    assert record["accepted"] and record["loss_candidate"] < record["loss_before"]
    assert record["loss_candidate"] == target.loss() and not target.trainer.adam.state
    assert solver.counts[0, 0, 1] == 1
    # the success rates of the Beta(1, 1) prior: T0 -> T1 one accepted, one rejected
    assert solver.success_rates(1).tolist() == [0.5, 0.0]


def test_the_main_task_is_the_pinn_loss_with_observations_and_the_smoothed_task_only_changes_eps():
    def problem():
        p = Traffic()
        return p.given(inverse.sample_observations(p, sensors=5))

    mto = MTO(problem(), smooth="eps", tasks=["smooth:4"], iterations=30, **SMALL)
    mto.setup()
    pinn = PINN(problem(), iterations=15, **SMALL)
    pinn.setup()
    main, smooth = mto.tasks[0].solver.loss(), mto.tasks[1].solver.loss()
    assert set(main) == {"residual", "data"} and main == pinn.loss()
    assert smooth["data"] == main["data"] and smooth["residual"] != main["residual"]
    assert mto.tasks[1].solver.problem.eps == 4 * mto.problem.eps == 4 * 0.005


def test_on_poisson_the_main_task_learns_the_analytic_solution_and_metrics_record_both_budgets():
    # Poisson names no smoothing parameter: "auto" makes two fresh-collocation tasks.
    result = MTO(Poisson(frequency=1.0), iterations=900, round_steps=50, lr=5e-3,
                 **dict(SMALL, width=16, depth=2)).train()
    metrics = api.metrics(result)
    summary = metrics["extra_metrics"]
    assert summary["tasks"] == ["T1 points seed 4", "T2 points seed 5"]
    assert summary["adam_steps_total"] == 900 and summary["adam_steps_main"] == 300
    assert summary["transfers"] == 3 * 6 and 0 <= summary["transfers_accepted"] <= 18
    assert metrics["rel_l2"] < 5e-3  # against u = sin(pi x) sin(pi y); measured 4.9e-4 (pinn, 300 steps: 8.8e-3)
    x = np.random.default_rng(0).random((50, 2))
    with torch.no_grad():
        main = result.solver.tasks[0].solver.model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    assert np.array_equal(result.predict(x), main.astype(float))


def test_a_budget_that_does_not_divide_by_the_tasks_gives_the_remainder_to_the_main_task():
    """31 Adam steps over 3 tasks: 10 for each auxiliary task, 11 for T0, 31 in all; the last round
    comes after T0's 11th step, with the auxiliary tasks stopped at their 10."""
    solver = MTO(Burgers(), tasks=["points", "points"], round_steps=5, iterations=31, **SMALL)
    result = solver.train()
    assert [task.trainer.state.step for task in solver.tasks[1:]] == [10, 10]
    adam = [r["step"] for r in result.history if r["phase"] == "adam"]
    assert max(adam) == 11
    assert [r["step"] for r in result.history if "transfers" in r] == [5, 10, 11]
    summary = solver.extra_metrics(result)
    assert (summary["adam_steps_total"], summary["adam_steps_main"], summary["transfers"]) == (31, 11, 9)


def test_an_interrupted_run_resumes_exactly(tmp_path):
    def make():
        return MTO(Burgers(), smooth="nu", tasks=["smooth:2", "points"], round_steps=4, iterations=36,
                   resample_every=5, checkpoint_every=2, **SMALL)

    full = make().train(out=tmp_path / "full")
    count = {"records": 0}

    def interrupt(trainer, record):  # Ctrl-C after the 7th record: between rounds
        count["records"] += 1
        if count["records"] == 7:
            os.kill(os.getpid(), signal.SIGINT)

    first = make().train(out=tmp_path / "cut", callbacks=[interrupt])
    assert first.interrupted
    resumed = make().train(out=tmp_path / "cut", resume=True)
    assert [(r["loss"], r.get("transfers")) for r in resumed.history] == \
           [(r["loss"], r.get("transfers")) for r in full.history]
    assert _same_weights(resumed.model, full.model)
    loaded = load(full.save(tmp_path / "saved"))  # what is saved and loaded back is T0's network
    x = np.random.default_rng(1).uniform([-1, 0], [1, 1], (40, 2))
    assert np.array_equal(loaded.predict(x), full.predict(x)) and loaded.solver.name == "mto"


@pytest.mark.parametrize("problem, settings, message", [
    (Poisson, {"tasks": ["smooth:2"]}, "problem 'poisson' names none: give smooth=NAME, one of its real parameters "
                                       "(frequency)"),
    (Burgers, {"tasks": ["smooth:0"], "smooth": "nu"}, "the factor must be a positive number, got '0'"),
    (Burgers, {"tasks": ["smooth:2"], "smooth": "enforce"}, "smooth='enforce' is not a real parameter"),
    (Poisson, {"tasks": ["smooth:5"], "smooth": "frequency"}, "frequency must be <= 8.0"),
    (Burgers, {"tasks": ["blur"]}, "auxiliary task 'blur' is not one of"),
    (Burgers, {"tasks": ["points:3"]}, "auxiliary task 'points:3' is not one of"),
    (Burgers, {"tasks": "points"}, "tasks must be 'auto' or a list of task strings"),
    (Burgers, {"tasks": ["weights:residual"]}, "expected 'weights:TERM=W,...' with weights >= 0, got 'residual'"),
    (Burgers, {"tasks": ["weights:data=-1"]}, "with weights >= 0, got 'data=-1'"),
    (Burgers, {"alpha": 0.0}, "alpha must be a number in (0, 1]"),
    (Burgers, {"alpha": 1.5}, "alpha must be a number in (0, 1]"),
    (Burgers, {"round_steps": 0}, "round_steps must be a positive integer"),
    (Burgers, {"round_steps": "ten"}, "round_steps must be a positive integer"),
])
def test_bad_settings_are_refused_with_one_sentence(problem, settings, message):
    with pytest.raises(ValueError) as err:
        MTO(problem(), **{"iterations": 300, **settings})
    assert message in str(err.value)


def test_bad_task_terms_and_identified_smoothing_are_refused():
    with pytest.raises(ValueError, match=r"auxiliary task T1 weights data=10: weights given for unknown loss term"):
        MTO(Burgers(), tasks=["weights:data=10"], iterations=20, **SMALL).setup()
    problem = Burgers()
    problem.given(inverse.sample_observations(problem, samples=50), "none").identify(["nu"], {"nu": 0.01})
    with pytest.raises(ValueError, match="smooth='nu' is identified"):
        MTO(problem, smooth="nu", tasks=["smooth:2"], iterations=20)
