"""Tests for ``sciml bench sequence`` (benchmarks/sequence.py) at one step: the two contenders must
compute the same loss on the same weights and batch (the check the benchmark makes before timing), and
an earlier revision that cannot be read is refused with its name. Its timings are not tested (they are
what the benchmark measures)."""

import json

import pytest

from sciml.benchmarks.sequence import AGAINST, main, module_at


def test_the_default_earlier_commit_computes_the_same_loss(tmp_path, one_thread):
    assert main(["--steps", "1", "--repeats", "1", "--warmup", "0", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "sequence.json").read_text())
    ours, theirs = saved["initial_loss"]["this tree"], saved["initial_loss"][AGAINST]
    assert ours == pytest.approx(theirs, rel=1e-6) and 0.5 < ours < 10  # the loss of an untrained network
    assert set(saved["ms_per_step_median"]) == {"this tree", AGAINST} and saved["speedup"] > 0


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(RuntimeError, match="--against 'no-such-commit': cannot read solvers/sequence.py"):
        module_at("no-such-commit")
    with pytest.raises(ValueError, match="--steps must be a positive integer, got 0"):
        main(["--steps", "0"])
