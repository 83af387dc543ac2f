"""Training across 2 CPU processes under torchrun (gloo) gives the history one process gives.

Data-parallel PINN on Burgers (the collocation points split between the processes) and the
multi-domain solver on Poisson (the 4 subdomains split between them) are launched exactly as a user
would, ``torchrun --standalone --nproc_per_node 2 -m sciml run ...``, and compared step by step with
the same command in one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest


def _torchrun(out, args):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launcher + ["-m", "sciml", "run", *args, "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _losses(out):
    return np.array([r["loss"] for r in json.loads((out / "history.json").read_text())])


@pytest.mark.parametrize("args", [
    ["burgers", "--iterations", "100", "--lbfgs-iterations", "0"],
    ["poisson", "--solver", "multidomain", "--iterations", "100", "--lbfgs-iterations", "0"],
], ids=["pinn-data-parallel", "multidomain-by-subdomain"])
def test_two_processes_reproduce_the_single_process_loss_history(tmp_path, args):
    from sciml.cli import main

    assert main(["run", *args, "--no-progress", "--out", str(tmp_path / "one")]) == 0
    stdout = _torchrun(tmp_path / "two", args)
    assert stdout.count("done:") == 1  # only rank 0 reports
    one, two = tmp_path / "one", tmp_path / "two"
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 100
    assert np.max(np.abs(a - b) / np.abs(a)) < 1e-5
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m2["rel_l2"] == pytest.approx(m1["rel_l2"], rel=1e-4)
    assert a[-1] < 0.75 * a[0]  # it trained
