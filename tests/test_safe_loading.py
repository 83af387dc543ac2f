"""Loading a result or checkpoint runs no code from it (issue 19).

Crafted files whose pickle would create a marker file when unpickled (``__reduce__`` calling
``exec``) are refused by every loader — ``sciml.load``, resuming (``resume=True``, ``--resume``, a
causal window's checkpoint, an ODE solver's), and ``init=`` / ``--init`` — and the marker never
appears. Damaged files (garbage, truncated, empty, a result of an unknown problem or solver, a file
of a newer format, a checkpoint of another run) give one sentence naming the file and are left as
they were. The crafted-file tests use only names main already had, so they run (and fail) there.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import sciml
from sciml.cli import main
from sciml.problems import Burgers, Convection
from sciml.problems.pendulum import Pendulum
from sciml.solvers import PINN, CausalPINN
from sciml.solvers.hypersolver import HyperSolver

TINY = dict(width=8, depth=2, n_interior=64, n_boundary=16, iterations=3, lbfgs_iterations=0, compile=False,
            native=False, progress=False, device="cpu")
FAST = ["--iterations", "3", "--lbfgs-iterations", "0", "--no-progress", "--device", "cpu"]


class Payload:
    """Unpickling this calls ``exec``, which creates the file ``marker``: what a malicious result or
    checkpoint can do to the machine that loads it (``os.system`` would do the same with a shell)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def craft(path: Path, marker: Path, container: str = "torch") -> Path:
    """A result/checkpoint-shaped file at ``path`` whose unpickling runs :class:`Payload` (a
    ``torch.save`` zip or a bare pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"format": 1, "kind": path.stem, "spec": Payload(marker), "model": {}, "module": Payload(marker)}
    if container == "torch":
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=2))
    return path


def attempt(load):
    """Call ``load()``; the exception it raised (None if none)."""
    try:
        load()
    except Exception as err:  # the tests below say which one it must be
        return err
    return None


def assert_refused(err, path: Path, marker: Path) -> None:
    assert not marker.exists(), "loading the crafted file ran its code"
    assert isinstance(err, ValueError), f"expected a clear ValueError, got {err!r}"
    message = str(err)
    assert str(path) in message and "could run code" in message and "\n" not in message, message


@pytest.fixture
def no_native(monkeypatch):
    """``sciml run`` without the native kernel (building it is not what these tests are about)."""
    monkeypatch.setitem(PINN.defaults, "native", False)


def test_the_payload_runs_code_when_unpickled_without_safeguards(tmp_path):
    """The control: the crafted file is really malicious (so the tests below can fail)."""
    marker = tmp_path / "PWNED"
    path = craft(tmp_path / "result.pt", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("container", ["torch", "pickle"])
def test_load_refuses_a_malicious_result(tmp_path, container):
    marker = tmp_path / "PWNED"
    path = craft(tmp_path / "run" / "result.pt", marker, container)
    before = path.read_bytes()
    err = attempt(lambda: sciml.load(tmp_path / "run"))
    assert_refused(err, path, marker)
    assert "trusted=True" in str(err)  # how to convert a trusted file of the old format
    assert path.read_bytes() == before


def test_resume_refuses_a_malicious_checkpoint(tmp_path, capsys, no_native):
    marker = tmp_path / "PWNED"
    path = craft(tmp_path / "run" / "checkpoint.pt", marker)
    before = path.read_bytes()
    assert_refused(attempt(lambda: PINN(Burgers(), **TINY).train(out=tmp_path / "run", resume=True)), path, marker)
    assert main(["run", "burgers", "--out", str(tmp_path / "run"), "--resume"] + FAST) == 2
    err = capsys.readouterr().err
    assert not marker.exists() and "could run code" in err and err.count("\n") == 1, err
    assert path.read_bytes() == before


def test_a_causal_window_and_an_ode_solver_refuse_a_malicious_checkpoint(tmp_path):
    marker = tmp_path / "PWNED"
    window = craft(tmp_path / "causal" / "window-0" / "checkpoint.pt", marker)
    causal = CausalPINN(Convection(beta=1.0), windows=2, chunks=2, **TINY)
    assert_refused(attempt(lambda: causal.train(out=tmp_path / "causal", resume=True)), window, marker)
    ode = craft(tmp_path / "ode" / "checkpoint.pt", marker)
    hyper = HyperSolver(Pendulum(), iterations=2, n_samples=16, progress=False)
    assert_refused(attempt(lambda: hyper.train(out=tmp_path / "ode", resume=True)), ode, marker)


def test_init_refuses_a_malicious_result(tmp_path, capsys, no_native):
    marker = tmp_path / "PWNED"
    path = craft(tmp_path / "shared" / "result.pt", marker)
    assert_refused(attempt(lambda: PINN(Burgers(), init=tmp_path / "shared", **TINY).setup()), path, marker)
    assert main(["run", "burgers", "--out", str(tmp_path / "run"), "--init", str(tmp_path / "shared")] + FAST) == 2
    err = capsys.readouterr().err
    assert not marker.exists() and "could run code" in err and err.count("\n") == 1, err


# -- damaged files ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A small trained Burgers result with its checkpoint."""
    out = tmp_path_factory.mktemp("saved")
    PINN(Burgers(), **TINY).train(out=out).save(out)
    return out


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": np.random.default_rng(0).bytes(4096),
                      "empty": b"", "text": b"not a checkpoint\n"}[how])


def one_sentence(err, path: Path, *words: str) -> None:
    from sciml.storage import SavedFileError

    assert isinstance(err, SavedFileError), f"expected a SavedFileError, got {err!r}"
    message = str(err)
    assert str(path) in message and "\n" not in message, message
    for word in words:
        assert word in message, message


def damaged_copy(source, folder, how):
    """A copy of ``source`` in ``folder`` damaged ``how``; returns its path and its damaged bytes."""
    folder.mkdir()
    path = folder / source.name
    path.write_bytes(source.read_bytes())
    damage(path, how)
    return path, path.read_bytes()


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "text"])
def test_a_damaged_result_is_one_sentence_and_left_alone(saved, tmp_path, how):
    folder = tmp_path / "copy"
    path, before = damaged_copy(saved / "result.pt", folder, how)
    one_sentence(attempt(lambda: sciml.load(folder)), path, "damaged")
    one_sentence(attempt(lambda: PINN(Burgers(), init=folder, **TINY).setup()), path, "damaged")
    assert path.read_bytes() == before


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_resume_from_a_damaged_checkpoint_is_one_sentence_and_does_not_overwrite_it(saved, tmp_path, how, capsys, no_native):
    run = tmp_path / "run"
    path, before = damaged_copy(saved / "checkpoint.pt", run, how)
    one_sentence(attempt(lambda: PINN(Burgers(), **TINY).train(out=run, resume=True)), path, "damaged")
    assert main(["run", "burgers", "--out", str(run), "--resume"] + FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sciml: error: {path} cannot be read") and err.count("\n") == 1, err
    assert "Traceback" not in err and not (run / "sciml-error.log").exists()
    assert path.read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt"]  # nothing else written either


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the sciml file ``source`` at ``target`` with its dict changed by ``change``."""
    from sciml import storage

    content = storage.read(source, source.stem)
    change(content)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, target)
    return target


@pytest.mark.parametrize("key,name", [("problem", "no-such-problem"), ("solver", "no-such-solver")])
def test_a_result_of_an_unknown_problem_or_solver_names_it(saved, tmp_path, key, name):
    path = _rewrite(saved / "result.pt", tmp_path / "r" / "result.pt", lambda c: c["spec"].update({key: name}))
    one_sentence(attempt(lambda: sciml.load(tmp_path / "r")), path, repr(name), "not registered")


def test_files_of_a_newer_format_are_refused(saved, tmp_path):
    from sciml.storage import FORMAT_VERSION

    newer = lambda c: c.update(format=FORMAT_VERSION + 1)  # noqa: E731
    result = _rewrite(saved / "result.pt", tmp_path / "r" / "result.pt", newer)
    one_sentence(attempt(lambda: sciml.load(tmp_path / "r")), result, "newer", "upgrade sciml")
    checkpoint = _rewrite(saved / "checkpoint.pt", tmp_path / "c" / "checkpoint.pt", newer)
    one_sentence(attempt(lambda: PINN(Burgers(), **TINY).train(out=tmp_path / "c", resume=True)), checkpoint,
                 "newer", "upgrade sciml")


def test_a_checkpoint_of_another_run_or_of_the_wrong_kind_is_named(saved, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes((saved / "checkpoint.pt").read_bytes())
    wider = PINN(Burgers(), **{**TINY, "width": 9})
    one_sentence(attempt(lambda: wider.train(out=run, resume=True)), run / "checkpoint.pt", "not hold the state")
    one_sentence(attempt(lambda: PINN(Burgers(), init=saved / "checkpoint.pt", **TINY).setup()),
                 saved / "checkpoint.pt", "is a sciml checkpoint, not a result")


def test_an_old_format_result_loads_safely_or_converts_once_when_trusted(saved, tmp_path):
    """Results sciml wrote before file format 1 (no ``format``/``kind``): plain ones load as they are;
    one holding a Python object (a Path in its settings) is refused, loads with ``trusted=True`` and
    converts by saving it again."""
    from sciml.storage import SavedFileError

    x = np.array([[0.1, 0.2], [-0.5, 0.9]])
    expected = sciml.load(saved).predict(x)

    def old(content, init=None):
        for key in ("format", "kind"):
            del content[key]
        content["spec"]["settings"]["init"] = init

    _rewrite(saved / "result.pt", tmp_path / "plain" / "result.pt", old)
    np.testing.assert_array_equal(sciml.load(tmp_path / "plain").predict(x), expected)
    path = _rewrite(saved / "result.pt", tmp_path / "object" / "result.pt", lambda c: old(c, Path("runs/x")))
    with pytest.raises(SavedFileError, match=r"\(pathlib\.[\w.]*Path\).*could run code.*trusted=True"):
        sciml.load(tmp_path / "object")
    sciml.load(tmp_path / "object", trusted=True).save(tmp_path / "object")
    again = sciml.load(tmp_path / "object")
    assert again.settings["init"] == "runs/x"
    np.testing.assert_array_equal(again.predict(x), expected)


def test_plain_converts_metadata_and_names_what_it_cannot_hold():
    from sciml.storage import plain

    converted = plain({"a": [np.float64(1.5), Path("runs/x"), (1, None)], "b": np.arange(3), "t": torch.ones(2)})
    assert converted["a"] == [1.5, "runs/x", (1, None)] and type(converted["a"][0]) is float
    assert converted["b"] == [0, 1, 2] and torch.equal(converted["t"], torch.ones(2))
    with pytest.raises(ValueError, match=r"settings\['callback'\] is a function, which a sciml file cannot hold"):
        plain({"callback": lambda: None, "ok": 1}, "settings")
