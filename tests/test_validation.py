"""Tests for the validation registry and runner (sciml.validation): fast, tiny training budgets."""

import contextlib
import dataclasses
import json
import os
import re
import signal

import pytest
import torch

import sciml
from sciml.validation import cases
from sciml.validation.cases import Case, Published
from sciml.validation.runner import (failure_path, fmt_error, history_series, load_failures, load_results, main,
                                     outdated, plan, record_failure, render_report, run_parallel)

TINY = Case(
    name="tiny-burgers", problem="burgers", solver="pinn",
    settings={"iterations": 50, "lbfgs_iterations": 0, "n_interior": 500, "optimizer": "adam-lbfgs"},
    budget="50 Adam", reference="Cole-Hopf", target=10.0, target_text="anything finite",
    published=(Published(1.0, "relative L2", "made up for the test", "Nobody (2024), Test, Table 0"),))
TINY_LBFGS = Case(
    name="tiny-burgers-lbfgs", problem="burgers", solver="pinn",
    settings={"iterations": 20, "lbfgs_iterations": 5, "n_interior": 300, "eval_every": 10, "optimizer": "adam-lbfgs"},
    budget="20 Adam + 5 L-BFGS", reference="Cole-Hopf", target=1e-12)


@contextlib.contextmanager
def _registered_cases(*made):
    """The cases ``made`` registered for the block, unregistered after it."""
    for case in made:
        cases.register(case)
    try:
        yield
    finally:
        for case in made:
            cases.unregister(case.name)


@pytest.fixture
def tiny_cases():
    with _registered_cases(TINY, TINY_LBFGS):
        yield


def _row(report: str, name: str) -> str:
    """``name``'s row of the report's summary table (the tables under it, such as the optimiser tables,
    list a case again)."""
    summary = report.split("\n### ", 1)[0]
    rows = [line for line in summary.splitlines() if line.startswith(f"| [{name}](")]
    assert len(rows) == 1, f"expected one table row for {name}, got {rows}"
    return rows[0]


def test_lookup_error_lists_known_cases():
    with pytest.raises(ValueError, match=r"unknown validation case 'no-such-case'; known cases: .*burgers-pinn"):
        cases.get("no-such-case")
    with pytest.raises(ValueError, match="known cases: .*burgers-pinn"):
        main(["no-such-case", "--out", "/nonexistent/never-created"])


def test_register_rejects_duplicates_and_bad_cases():
    with pytest.raises(ValueError, match="already registered"):
        cases.register(cases.get("burgers-pinn"))
    with pytest.raises(ValueError, match="case name"):
        Case(name="Has Spaces", problem="burgers", solver="pinn")
    with pytest.raises(ValueError, match="target"):
        Case(name="x", problem="burgers", solver="pinn", target=-1.0)
    with pytest.raises(ValueError, match="citation"):
        Published(1e-3, "relative L2", "something", "  ")


def test_burgers_case_is_the_sciml_run_default_with_cited_figures():
    from sciml.problems.burgers import Burgers
    from sciml.solvers.pinn import PINN

    case = cases.get("burgers-pinn")
    assert (case.problem, case.solver, case.params, case.settings) == ("burgers", "pinn", {}, {})
    assert case.target == 1e-4
    # the typed budget text must say what the PINN's resolved defaults really are
    d = PINN(Burgers()).settings
    assert d["optimizer"] == "ssbroyden" and d["dtype"] in case.budget
    assert f"{d['width']} x {d['depth']}" in case.budget and f"redrawn every {d['resample_every']} steps" in case.budget
    assert f"{d['iterations']:,} Adam" in case.budget and f"{d['lbfgs_iterations']:,} SSBroyden" in case.budget
    values = {p.value for p in case.published}
    assert {6.7e-4, 1.2e-2} <= values
    assert all(p.citation and p.metric == "relative L2" for p in case.published)


def test_history_series_puts_lbfgs_after_adam():
    hist = [{"phase": "adam", "step": k, "loss": 1.0 / k, "residual": 1.0 / k, "lr": 1e-3, "time": 0.1 * k}
            for k in range(1, 11)]
    # an L-BFGS record's loss is the one at the start of its chunk; its terms are the current ones
    hist += [{"phase": "lbfgs", "step": 50, "loss": 0.1, "residual": 0.01, "lr": 1.0, "time": 2.0, "rel_l2": 0.1},
             {"phase": "lbfgs", "step": 80, "loss": 0.001, "residual": 0.001, "lr": 1.0, "time": 3.0, "rel_l2": 0.05}]
    s = history_series(hist)
    assert s["boundary"] == 10 and s["adam"] == 10 and s["lbfgs"] == 80
    assert s["step"][-2:] == [60, 90]
    assert s["rel_l2"] == [(60, 0.1), (90, 0.05)]
    assert list(s["terms"]) == ["residual"]
    assert s["loss"][:10] == [1.0 / k for k in range(1, 11)] and s["loss"][-2:] == [0.01, 0.001]


def test_runner_writes_results_figures_and_report(tmp_path, tiny_cases, one_thread, capsys):
    out = tmp_path / "validation"
    record_failure(cases.get("tiny-burgers"), out, RuntimeError("an earlier attempt"), 1.0)
    assert main(["tiny-burgers", "--out", str(out), "--no-progress"]) == 0
    assert not failure_path(out, "tiny-burgers").exists()  # a run that succeeds clears the failure
    printed = capsys.readouterr().out
    assert re.search(r"tiny-burgers: start", printed) and re.search(r"tiny-burgers: done .*pass", printed)

    stored = json.loads((out / "results" / "tiny-burgers.json").read_text())
    again = sciml.load(out / "runs" / "tiny-burgers").errors()["rel_l2"]
    assert stored["rel_l2"] == pytest.approx(again, rel=1e-9, abs=0)
    assert stored["case"]["name"] == "tiny-burgers" and stored["passed"] is True
    assert stored["steps_run"] == {"adam": 50, "lbfgs": 0}
    for fig in ("tiny-burgers-comparison.png", "tiny-burgers-history.png"):
        png = out / "figures" / fig
        assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / ".gitignore").read_text().strip() == "runs/"

    report = (out / "REPORT.md").read_text()
    assert "Generated file" in report and "`sciml validate`" in report
    row = _row(report, "tiny-burgers")
    assert fmt_error(stored["rel_l2"]) in row and "pass" in row
    assert "1.00e+00 — made up for the test [1]" in row and "Nobody (2024)" not in row
    assert "Nobody (2024), Test, Table 0" in report
    assert "(figures/tiny-burgers-comparison.png)" in report and "(figures/tiny-burgers-history.png)" in report

    # another case: its row is added, the first row is kept unchanged; missing the target fails
    assert main(["tiny-burgers-lbfgs", "--out", str(out), "--no-progress"]) == 1
    second = json.loads((out / "results" / "tiny-burgers-lbfgs.json").read_text())
    assert second["steps_run"]["adam"] == 20 and second["steps_run"]["lbfgs"] >= 1
    report2 = (out / "REPORT.md").read_text()
    assert _row(report2, "tiny-burgers") == row
    row2 = _row(report2, "tiny-burgers-lbfgs")
    assert fmt_error(second["rel_l2"]) in row2 and "FAIL" in row2
    assert render_report(out) == report2  # regenerated from the stored results alone


def test_changed_case_marks_its_stored_row_stale(tmp_path, tiny_cases):
    out = tmp_path / "v"
    (out / "results").mkdir(parents=True)
    record = {"rel_l2": 0.5, "wall_time_s": 1.0, "device_name": "cpu", "cpu_count": 2, "date": "2024-01-01 00:00 UTC",
              "case": {**TINY.to_dict(), "settings": {"iterations": 7}}}
    (out / "results" / "tiny-burgers.json").write_text(json.dumps(record))
    row = _row(render_report(out), "tiny-burgers")
    assert "5.00e-01" in row and "stale" in row


def test_installed_copy_writes_into_the_working_directory(tmp_path, monkeypatch):
    """Outside a source checkout `sciml validate` must not write into the installed package's folder."""
    from sciml.validation import runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "source_checkout", lambda: False)
    assert runner.default_out() == tmp_path / "validation"
    monkeypatch.setattr(runner, "source_checkout", lambda: True)
    assert runner.default_out() == runner.HERE


def _stored(out, case, **record):
    (out / "results").mkdir(parents=True, exist_ok=True)
    from sciml.validation.runner import code_fingerprint

    full = {"rel_l2": 0.5, "wall_time_s": 1.0, "device_name": "cpu", "cpu_count": 2, "date": "2024-01-01 00:00 UTC",
            "commit": "0123456789ab", "code": code_fingerprint(), "case": case.to_dict(), **record}
    (out / "results" / f"{case.name}.json").write_text(json.dumps(full))


def test_an_unreadable_result_or_failure_record_is_skipped_with_a_warning_naming_it(tmp_path, capsys):
    out = tmp_path / "v"
    (out / "results" / "failed").mkdir(parents=True)
    (out / "results" / "good.json").write_text(json.dumps({"rel_l2": 0.5}))
    (out / "results" / "cut.json").write_text('{"rel_l2": 0.')  # a write cut short
    (out / "results" / "failed" / "good.json").write_text(json.dumps({"error": "TrainingDiverged: ..."}))
    (out / "results" / "failed" / "cut.json").write_text("{")
    assert load_results(out) == [{"rel_l2": 0.5}]
    assert load_failures(out) == {"good": {"error": "TrainingDiverged: ..."}}
    err = capsys.readouterr().err
    assert f"skipping unreadable result {out / 'results' / 'cut.json'}" in err
    assert f"skipping unreadable failure record {out / 'results' / 'failed' / 'cut.json'}" in err
    # a case measured against, or started from, the unreadable result stops with its name
    from sciml.validation.runner import _stored
    with pytest.raises(ValueError, match=f"the stored result {re.escape(str(out / 'results' / 'cut.json'))} cannot be "
                                         r"read .*; run `sciml validate cut` again"):
        _stored("cut", out)


def test_changed_code_marks_a_stored_row_stale_and_names_the_module(tmp_path, tiny_cases):
    from sciml.validation.runner import code_fingerprint

    _stored(tmp_path, TINY)
    row = _row(render_report(tmp_path), "tiny-burgers")
    assert "stale" not in row and "`0123456789ab`" in row and "pass" in row
    code = code_fingerprint()
    assert {"sciml.api", "sciml.problems.burgers", "sciml.solvers.pinn", "sciml.native/jet_mlp.cpp"} <= set(code)
    _stored(tmp_path, TINY, code={**code, "sciml.solvers.pinn": "0" * 16})
    row = _row(render_report(tmp_path), "tiny-burgers")
    assert "stale: the code or bundled data changed since this run (sciml.solvers.pinn)" in row
    _stored(tmp_path, TINY, code=None, commit=None)
    row = _row(render_report(tmp_path), "tiny-burgers")
    assert "recorded no code fingerprint" in row and "none recorded" in row


def test_only_the_cases_without_a_current_result_are_outdated(tmp_path):
    from sciml.validation.runner import code_fingerprint

    made = [dataclasses.replace(TINY, name=f"tiny-{n}") for n in "abcde"]
    with _registered_cases(*made):
        _stored(tmp_path, made[0])  # current
        _stored(tmp_path, made[1], code={**code_fingerprint(), "sciml.solvers.pinn": "0" * 16})  # code changed
        _stored(tmp_path, dataclasses.replace(made[2], settings={"iterations": 7}))  # case changed
        _stored(tmp_path, made[3], code=None)  # no code recorded
        names = [c.name for c in made]  # tiny-e has never run
        assert outdated(names, tmp_path) == ["tiny-b", "tiny-c", "tiny-d", "tiny-e"]
        assert outdated(["tiny-e", "tiny-a", "tiny-b"], tmp_path) == ["tiny-e", "tiny-b"]


def test_a_result_records_the_code_as_it_was_when_its_run_began(tmp_path, tiny_cases, one_thread, monkeypatch):
    """The commit and code digests are the run's at its start (the modules are loaded then): a commit made
    while it runs changes neither, and an edit of the code while it runs marks the commit."""
    from sciml import api
    from sciml.validation import runner

    state = {"commit": "aaaa", "code": {"sciml.training": "1"}}
    monkeypatch.setattr(runner, "source_commit", lambda: state["commit"])
    monkeypatch.setattr(runner, "code_fingerprint", lambda: dict(state["code"]))
    plain = api.run

    def run_then(change):
        def wrapped(*args, **kwargs):
            result = plain(*args, **kwargs)
            state.update(change)
            return result
        return wrapped

    stored = tmp_path / "results" / "tiny-burgers.json"
    monkeypatch.setattr(api, "run", run_then({"commit": "bbbb"}))
    runner.run_case(cases.get("tiny-burgers"), tmp_path, progress=False)
    record = json.loads(stored.read_text())
    assert record["commit"] == "aaaa" and record["code"] == {"sciml.training": "1"}
    monkeypatch.setattr(api, "run", run_then({"code": {"sciml.training": "2"}}))
    runner.run_case(cases.get("tiny-burgers"), tmp_path, progress=False)
    record = json.loads(stored.read_text())
    assert record["commit"] == "bbbb+changed-during-run" and record["code"] == {"sciml.training": "1"}


def test_only_the_code_a_case_runs_can_make_it_stale(tmp_path, tiny_cases):
    from sciml.validation.runner import code_dependencies, code_fingerprint

    used = code_dependencies("burgers", "pinn")
    assert {"sciml.api", "sciml.training", "sciml.problems.burgers:Burgers", "sciml.solvers.pinn",
            "sciml.classical.cole_hopf", "sciml.native/jet_mlp.cpp"} <= used
    assert not used & {"sciml.problems.diesel", "sciml.problems.traffic", "sciml.solvers.mto", "sciml.cli"}
    assert "sciml.solvers.pinn" in code_dependencies("traffic", "mto")  # the MTO trainer builds on the PINN's
    code = code_fingerprint()
    _stored(tmp_path, TINY, code={**code, "sciml.problems.diesel": "0" * 16, "sciml.cli": "1" * 16})
    assert "stale" not in _row(render_report(tmp_path), "tiny-burgers")
    _stored(tmp_path, TINY, code={**code, "sciml.problems.diesel": "0" * 16, "sciml.training": "1" * 16})
    assert ("stale: the code or bundled data changed since this run (sciml.training)"
            in _row(render_report(tmp_path), "tiny-burgers"))


def test_a_changed_data_file_makes_the_runs_that_load_it_stale(tmp_path, tiny_cases):
    from sciml.validation.runner import code_dependencies, code_fingerprint

    assert "sciml.data/burgers_cole_hopf.npz" in code_dependencies("burgers", "pinn")
    assert {f"sciml.data/lid_driven_cavity_re{re}.vtu" for re in (100, 400, 1000)} <= code_dependencies(
        "lid-driven-cavity", "pinn")  # named by an f-string
    assert not any(name.startswith("sciml.data/") for name in code_dependencies("poisson", "pinn"))
    code = code_fingerprint()
    _stored(tmp_path, TINY, code={**code, "sciml.data/lattice_fracture.npz": "0" * 16})
    assert "stale" not in _row(render_report(tmp_path), "tiny-burgers")
    _stored(tmp_path, TINY, code={**code, "sciml.data/burgers_cole_hopf.npz": "0" * 16})
    assert ("stale: the code or bundled data changed since this run (sciml.data/burgers_cole_hopf.npz)"
            in _row(render_report(tmp_path), "tiny-burgers"))
    before_data_digests = {name: digest for name, digest in code.items() if not name.startswith("sciml.data/")}
    _stored(tmp_path, TINY, code=before_data_digests)  # judged by its code alone
    assert "stale" not in _row(render_report(tmp_path), "tiny-burgers")


def test_docstring_edits_do_not_change_the_code_fingerprint(tmp_path):
    from sciml.validation.runner import _digest

    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('def f(x):\n    """Twice x."""\n    return 2 * x  # doubled\n')
    b.write_text('def f(x):\n    """Two times x, in other words."""\n    return 2 * x\n')
    c.write_text('def f(x):\n    """Twice x."""\n    return 3 * x\n')
    assert _digest(a) == _digest(b) != _digest(c)


def test_a_target_set_after_the_run_is_marked_as_such(tmp_path, tiny_cases):
    _stored(tmp_path, dataclasses.replace(TINY, target=None))  # ran when the case had no target
    row = _row(render_report(tmp_path), "tiny-burgers")
    assert "pass (against a target set after this run)" in row
    _stored(tmp_path, dataclasses.replace(TINY, target=0.1))  # ran against a stricter target, since relaxed
    row = _row(render_report(tmp_path), "tiny-burgers")
    assert "pass (against a target changed after this run; then: FAIL)" in row


@contextlib.contextmanager
def _registered(study, arms, **common):
    """``study`` registered (:func:`cases.register_study`) for the block, unregistered after it."""
    cases.register_study(study, arms, **common)
    try:
        yield
    finally:
        for name in cases.STUDIES.pop(study.name).cases():
            cases.unregister(name)


def _store_arms(out, study, values, fields):
    """A stored result per seed and arm of ``study``: ``values[seed]`` holds the arms' values in the study's
    order, ``fields(value)`` the result's fields."""
    for seed, row in values.items():
        for arm, value in zip(study.arms, row):
            _stored(out, cases.get(study.case_name(arm, seed)), study=dataclasses.asdict(study), **fields(value))


def test_a_seed_study_judges_the_median_ratio_and_shows_every_seed(tmp_path):
    study = cases.Study(name="tiny-study", seeds=(0, 1, 2), arms=("pinn", "long"), baseline="pinn",
                        candidate="long", target_ratio=0.8, target_text="the longer run at most 0.8x the error")
    common = dict(problem="burgers", reference="Cole-Hopf", settings={"n_interior": 300})
    with _registered(study, {"pinn": {"solver": "pinn", "settings": {"iterations": 10}},
                             "long": {"solver": "pinn", "settings": {"iterations": 20}}}, **common):
        assert cases.expand(["tiny-study"]) == [f"tiny-study-{a}-seed{s}" for a in ("pinn", "long") for s in (0, 1, 2)]
        made = cases.get("tiny-study-long-seed1")
        assert made.settings == {"n_interior": 300, "iterations": 20, "seed": 1} and made.study == "tiny-study"
        # ratios long/pinn per seed: 0.5, 0.9, 0.7 -> median 0.7 <= 0.8: pass, though one seed is above
        _store_arms(tmp_path, study, {0: (0.2, 0.1), 1: (0.2, 0.18), 2: (0.1, 0.07)}, lambda err: {"rel_l2": err})
        report = render_report(tmp_path)
        assert "| 1 | 2.00e-01, 1.0 s | 1.80e-01, 1.0 s | 0.9 |" in report
        assert "median (min–max) over 3 seeds: 0.7 (0.5–0.9)" in report
        assert "median ratio ≤ 0.8: **pass**." in report
        # the same runs against a stricter target set afterwards: FAIL, and marked as set after the runs
        cases.STUDIES["tiny-study"] = dataclasses.replace(study, target_ratio=0.6)
        report = render_report(tmp_path)
        assert "median ratio ≤ 0.6: **FAIL** (against a target set or changed after some of these runs)" in report
        # a missing seed leaves the study incomplete, not passed
        (tmp_path / "results" / "tiny-study-long-seed2.json").unlink()
        assert "incomplete: 2 of 3 seeds have both arms." in render_report(tmp_path)
        # ... and a run that raised is shown as failed in its cell, in the verdict and in the table of failures
        record_failure(cases.get("tiny-study-long-seed2"), tmp_path, RuntimeError("loss nan at lbfgs step 0"), 61.0)
        report = render_report(tmp_path)
        assert "| 2 | " in report and "failed after 1 min 01 s (RuntimeError) |" in report
        assert "incomplete: 2 of 3 seeds have both arms; 1 of the missing runs failed (see Runs that failed)" in report
        assert re.search(r"\| tiny-study-long-seed2 \| .* UTC \| .* \| 1 min 01 s \| .* \| RuntimeError: loss nan at "
                         r"lbfgs step 0 \|", report)


def test_a_study_on_a_figure_of_merit_judges_its_deviation_from_the_published_value(tmp_path):
    # the cylinder's way: no reference field, the lift coefficient against its published 0.0106
    study = cases.Study(name="tiny-lift", seeds=(0, 1, 2), arms=("a", "b"), baseline="a", candidate="b",
                        target_ratio=0.5, metric="lift_coefficient", metric_reference=0.01)
    with _registered(study, {"a": {"settings": {"iterations": 10}}, "b": {"settings": {"iterations": 20}}},
                     problem="burgers", solver="pinn", reference="Schäfer-Turek"):
        # deviations a: 0.4, 0.2, 0.5 (one below the value); b: 0.1, 0.1, 0.05 -> ratios 0.25, 0.5, 0.1
        _store_arms(tmp_path, study, {0: (0.014, 0.011), 1: (0.008, 0.009), 2: (0.015, 0.0105)},
                    lambda lift: {"rel_l2": None, "lift_coefficient": lift})
        report = render_report(tmp_path)
        assert "`a` relative deviation of lift_coefficient from 0.01, time" in report
        assert "| 1 | 2.00e-01, 1.0 s | 1.00e-01, 1.0 s | 0.5 |" in report
        assert "median (min–max) over 3 seeds: 0.25 (0.1–0.5)" in report
        assert "median ratio ≤ 0.5: **pass**." in report
    with pytest.raises(ValueError, match="metric_reference must be a finite non-zero value, got 0.0"):
        cases.Study(name="s", seeds=(0, 1, 2), arms=("a", "b"), baseline="a", candidate="b", metric="x",
                    metric_reference=0.0)


def test_a_study_over_windows_judges_the_identified_parameters(tmp_path):
    # the diesel multi-stage optimiser study's way: each seed another window (a problem parameter), the
    # per-window ratio the largest of the parameters' error ratios, as a transfer against its scratch run
    study = cases.Study(name="tiny-windows", seeds=(2, 3, 4), arms=("a", "b"), baseline="a", candidate="b",
                        target_ratio=1.5, metric=cases.PARAMETERS, over="command_seed")
    with _registered(study, {"a": {"settings": {"optimizer": "ssbroyden"}},
                             "b": {"settings": {"optimizer": "adam-lbfgs"}}},
                     problem="diesel-engine", solver="ode-pinn", params={"duration": 8.0},
                     settings={"iterations": 10, "seed": 7}, reference="the window's simulation"):
        made = cases.get("tiny-windows-b-seed3")
        assert made.params == {"duration": 8.0, "command_seed": 3}
        assert made.settings == {"iterations": 10, "seed": 7, "optimizer": "adam-lbfgs"}
        assert study.seed_of(made) == 3
        # ratios b/a per window: max(0.5, 3.0) = 3.0, max(1.0, 0.5) = 1.0, max(1.2, 1.4) = 1.4 -> median 1.4
        errors = {2: ((0.02, 0.01), (0.01, 0.03)), 3: ((0.01, 0.04), (0.01, 0.02)), 4: ((0.01, 0.05), (0.012, 0.07))}
        _store_arms(tmp_path, study, errors, lambda egr_h: {"extra_metrics": {
            "rel_error_A_egrmax": egr_h[0], "rel_error_h_tot": egr_h[1], "coverage": 0.5}})
        report = render_report(tmp_path)
        assert "| command_seed | `a` largest parameter error, time | `b` largest parameter error, time |" in report
        assert "| 2 | 2.00e-02, 1.0 s | 3.00e-02, 1.0 s | 3 |" in report
        assert "median (min–max) over 3 seeds: 1.4 (1–3)" in report
        assert "median ratio ≤ 1.5: **pass**." in report
        # the same runs weighed by tolerances (A_egrmax 2 %, h_tot 10 %): a: 1.0, 0.5, 0.5; b: 0.5, 0.5, 0.7
        cases.STUDIES["tiny-windows"] = dataclasses.replace(study, metric=cases.TOLERANCE_USED,
                                                            tolerances={"A_egrmax": 0.02, "h_tot": 0.1})
        report = render_report(tmp_path)
        assert "`a` largest parameter error / tolerance, time" in report
        assert "| 2 | 1.00e+00, 1.0 s | 5.00e-01, 1.0 s | 0.5 |" in report
        assert "median (min–max) over 3 seeds: 1 (0.5–1.4)" in report
    with pytest.raises(ValueError, match="give tolerances exactly when the metric is 'tolerance-used'"):
        dataclasses.replace(study, metric=cases.TOLERANCE_USED)
    with pytest.raises(ValueError, match=r"tolerances must be finite and positive, got \{'h_tot': 0.0\}"):
        dataclasses.replace(study, metric=cases.TOLERANCE_USED, tolerances={"A_egrmax": 0.02, "h_tot": 0.0})


def test_a_study_needs_three_seeds_and_its_arms():
    with pytest.raises(ValueError, match="at least three distinct seeds"):
        cases.Study(name="s", seeds=(0, 1), arms=("a", "b"), baseline="a", candidate="b")
    with pytest.raises(ValueError, match="the candidate 'c' is not one of its arms"):
        cases.Study(name="s", seeds=(0, 1, 2), arms=("a", "b"), baseline="a", candidate="c")


def _second_order_history(phase: str, last_phase: str) -> list[dict]:
    """10 Adam records, then two records of the phase after Adam, the last one as the trainer writes it
    when that phase ends early (``last_phase`` "done") or at its budget (``phase``)."""
    hist = [{"phase": "adam", "step": k, "loss": 1.0 / k, "residual": 1.0 / k, "lr": 1e-3, "time": 0.1 * k}
            for k in range(1, 11)]
    return hist + [{"phase": phase, "step": 50, "loss": 1e-3, "residual": 1e-3, "lr": 0.5, "time": 2.0, "rel_l2": 1e-2},
                   {"phase": last_phase, "step": 70, "loss": 1e-6, "residual": 1e-6, "lr": 1.0, "time": 3.0,
                    "rel_l2": 1e-4}]


@pytest.mark.parametrize("phase", ["ssbroyden", "ssbfgs", "bfgs", "engd"])
def test_history_series_puts_a_second_order_phase_after_adam(phase):
    from sciml.validation.runner import steps_run

    for last in (phase, "done"):  # "done": the phase stopped early; its record still belongs to it
        s = history_series(_second_order_history(phase, last))
        assert (s["second"], s["adam"], s["second_steps"], s["lbfgs"], s["boundary"]) == (phase, 10, 70, 0, 10)
        assert s["step"][-2:] == [60, 80] and s["rel_l2"] == [(60, 1e-2), (80, 1e-4)]
        # these phases record the loss at the step they end on: kept, not replaced by the terms' sum
        assert s["loss"][-2:] == [1e-3, 1e-6]
        assert steps_run(s) == {"adam": 10, phase: 70}
    # a phase that stopped in its first chunk leaves only a "done" record: the run's optimizer names it
    only_done = _second_order_history(phase, "done")[:10] + _second_order_history(phase, "done")[-1:]
    assert history_series(only_done, optimizer=phase)["second"] == phase
    assert history_series(only_done, optimizer="adam-lbfgs")["second"] == "lbfgs"
    assert history_series(only_done[:10])["second"] is None and steps_run(history_series(only_done[:10])) == {
        "adam": 10, "lbfgs": 0}


def test_lbfgs_done_record_is_placed_after_adam():
    """A converged L-BFGS phase ends on a record of phase "done": it counts after the Adam steps too."""
    s = history_series(_second_order_history("lbfgs", "done"))
    assert (s["second"], s["lbfgs"], s["step"][-1]) == ("lbfgs", 70, 80)


def _report_of_one(tmp_path, name: str, **record) -> str:
    """The report of a results folder holding one stored result of case ``name`` with ``record``'s fields."""
    out = tmp_path / "v"
    (out / "results").mkdir(parents=True)
    stored = {"device_name": "cpu", "cpu_count": 2, "date": "2026-01-01 00:00 UTC", "case": cases.get(name).to_dict(),
              **record}
    (out / "results" / f"{name}.json").write_text(json.dumps(stored))
    return render_report(out)


def test_report_names_the_second_order_phase_and_tabulates_optimisers(tmp_path):
    from sciml.validation.runner import _steps_text

    assert _steps_text({"steps_run": {"adam": 1000, "ssbroyden": 8000}}) == "1,000 Adam + 8,000 SSBroyden"
    assert _steps_text({"steps_run": {"adam": 100, "engd": 37}}) == "100 Adam + 37 ENGD"
    assert _steps_text({"steps_run": {"adam": 3000, "lbfgs": 3360}}) == "3,000 Adam + 3,360 L-BFGS"
    assert _steps_text({"steps_run": {"adam": 50, "lbfgs": 0}}) == "50 Adam"

    report = _report_of_one(tmp_path, "poisson-engd-engd-seed0", rel_l2=3.5e-10, wall_time_s=75.0,
                            settings={"optimizer": "engd"}, steps_run={"adam": 100, "engd": 412})
    assert "### Optimisers on `poisson`" in report
    row = [line for line in report.splitlines() if line.startswith("| [poisson-engd-engd-seed0](") and " | ENGD | " in line]
    assert len(row) == 1 and "3.50e-10" in row[0] and "100 Adam + 412 ENGD" in row[0] and "6.20e-08" in row[0]
    assert "ran 100 Adam + 412 ENGD iterations" in report


def test_optimizer_table_lists_a_second_order_optimizer_that_is_the_problems_default(tmp_path):
    """A case that names no optimiser but ran a second-order one (its problem's default, as SSBroyden is
    traffic's) gets a row in its problem's optimiser table, named by the optimiser the run recorded."""
    assert "optimizer" not in cases.get("traffic-5-loops").settings
    report = _report_of_one(tmp_path, "traffic-5-loops", rel_l2=2.9e-2, wall_time_s=500.0,
                            settings={"optimizer": "ssbroyden"}, steps_run={"adam": 1000, "ssbroyden": 3000})
    assert "### Optimisers on `traffic`" in report
    row = [line for line in report.splitlines() if line.startswith("| [traffic-5-loops](") and " | SSBroyden | " in line]
    assert len(row) == 1 and "2.90e-02" in row[0] and "1,000 Adam + 3,000 SSBroyden" in row[0]


def test_the_optimizer_benchmark_figure_goes_under_its_problems_table(tmp_path):
    """``sciml bench optimizers``' stored JSON puts its figure, each optimiser's final error and time,
    and the commit, CPU and load of its run under the problem's optimiser table; no JSON, no figure."""
    from sciml.validation.runner import optimizer_benchmark

    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    assert optimizer_benchmark("burgers", tmp_path / "validation", results) == []
    (results / "optimizers-burgers.json").write_text(json.dumps({
        "config": {"iterations": 1000, "steps": 3000, "seed": 0},
        "final_rel_l2": {"adam-lbfgs": 2.77e-3, "ssbroyden": 2.96e-5}, "train_s": {"adam-lbfgs": 139.2, "ssbroyden": 271.0},
        "machine": {"commit": "4a98ad2" + "0" * 33, "uncommitted_changes": False, "cpu": "AMD EPYC (cpu family 23, model 1)"},
        "loadavg_1m": {"before": 1.05, "after": 1.2}}))
    text = "\n".join(optimizer_benchmark("burgers", tmp_path / "validation", results))
    assert "L-BFGS 2.77e-03 in 2 min 19 s; SSBroyden 2.96e-05 in 4 min 31 s" in text
    assert "after the same 1,000 Adam steps, then 3,000 steps of it (one seed, 0;" in text
    assert "commit `4a98ad200000`, AMD EPYC (cpu family 23, model 1), 1-minute load 1.05 before and 1.20 after" in text
    assert text.endswith("](../benchmarks/results/optimizers-burgers.png)")


def test_a_solver_that_does_not_train_reports_its_own_figures_and_no_loss(tmp_path, one_thread):
    """The finite-element solver has no loss history: its case shows the load-displacement figure it drew,
    no training-loss figure and no final loss, and its bounds judge its own metrics."""
    coarse = Case(name="tiny-sent-fem", problem="sent", solver="fem", params={"load_steps": 8},
                  settings={"h": 0.02, "band": 0.04}, budget="8 load steps, h = 0.02 mm",
                  reference="none: the bounds hold the peak", bounds={"peak_force": (0.0, 0.1)})
    with _registered_cases(coarse):
        out = tmp_path / "validation"
        assert main(["tiny-sent-fem", "--out", str(out), "--no-progress"]) == 1  # a coarse peak is far above 0.1 kN
        stored = json.loads((out / "results" / "tiny-sent-fem.json").read_text())
        assert stored["passed"] is False and stored["peak_force"] > 0.1
        assert set(stored["figures"]) == {"load_displacement"}
        assert (out / stored["figures"]["load_displacement"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        report = (out / "REPORT.md").read_text()
        section = report.split("## tiny-sent-fem", 1)[1]
        assert "final loss" not in section and "(figures/tiny-sent-fem-load_displacement.png)" in section
        assert not (out / "figures" / "tiny-sent-fem-history.png").exists()


def test_a_bound_on_a_nested_metric():
    """A dotted bound name reads a nested entry of the stored result (a solver's extra metric); a missing
    entry fails the bound."""
    from sciml.validation.runner import _passed

    case = Case(name="nested", problem="burgers", solver="pinn", bounds={"extra_metrics.rel_error_nu": (0.0, 0.05)})
    assert _passed(case, {"extra_metrics": {"rel_error_nu": 0.01}})
    assert not _passed(case, {"extra_metrics": {"rel_error_nu": 0.08}})
    assert not _passed(case, {"extra_metrics": {}})
    assert not _passed(case, {"rel_error_nu": 0.01})


TWIN = {"problem": "diesel-engine", "solver": "ode-pinn", "params": {"duration": 4.0, "hold": 2.0, "command_seed": 3},
        "inverse": {"identify": ["A_egrmax"], "initial_guess": {"A_egrmax": 3.0e-4}}}
TWIN_TINY = {"iterations": 30, "lbfgs_iterations": 0, "width": 8, "n_collocation": 20, "baseline": False,
             "shared_body": True}


def test_a_transfer_case_starts_from_its_source_run_and_is_measured_against_another(tmp_path, one_thread):
    """A case with ``init_from`` runs its source case first when that has no run, starts from the source's
    network (here few-shot: the body is the source's, unchanged) and records which run it started from; with
    ``against`` it stores the other case's wall time and parameter errors and the ratios the bounds hold."""
    source = Case(name="tiny-twin-source", settings=TWIN_TINY, **TWIN)
    few = Case(name="tiny-twin-few-shot", settings={**TWIN_TINY, "freeze_body": True}, init_from=source.name,
               against=source.name, bounds={"against.speedup": (0.0, 1e9)}, **TWIN)
    with _registered_cases(source, few):
        out = tmp_path / "v"
        assert main([few.name, "--out", str(out), "--no-progress"]) == 0
        first = json.loads((out / "results" / f"{source.name}.json").read_text())
        stored = json.loads((out / "results" / f"{few.name}.json").read_text())
        assert stored["init_from"] == {"case": source.name, "commit": first["commit"], "date": first["date"]}
        against = stored["against"]
        assert against["speedup"] == pytest.approx(first["wall_time_s"] / stored["wall_time_s"])
        ours, theirs = (r["extra_metrics"]["rel_error_A_egrmax"] for r in (stored, first))
        assert against["error_ratios"] == {"A_egrmax": pytest.approx(ours / theirs)}
        assert against["error_ratio"] == pytest.approx(ours / theirs) and stored["passed"] is True
        body = [sciml.load(out / "runs" / name).model.nets.body() for name in (source.name, few.name)]
        assert all(torch.equal(a, b) for a, b in zip(*body))


def test_a_speedup_is_measured_on_one_kind_of_cpu_only():
    """Wall times of two CPUs make no speed-up: ``against.speedup`` is then None and its bound fails; where the
    stored run names only a model name two generations share, the speed-up stands with a note."""
    from sciml.validation.runner import _passed, compare_runs, same_cpu

    zen, zen3 = "AMD EPYC (cpu family 23, model 1)", "AMD EPYC (cpu family 25, model 17)"
    assert same_cpu(zen, zen) is True and same_cpu(zen, zen3) is False and same_cpu(zen, "Intel Xeon") is False
    assert same_cpu(zen, "AMD EPYC") is None and same_cpu(None, zen) is None
    scratch = {"case": {"name": "scratch"}, "wall_time_s": 900.0, "cpu_model": zen,
               "extra_metrics": {"rel_error_a": 0.02}}
    mine = {"wall_time_s": 300.0, "extra_metrics": {"rel_error_a": 0.01}}
    same = compare_runs(mine, scratch, zen)
    assert same["speedup"] == 3.0 and same["error_ratio"] == 0.5 and "speedup_note" not in same
    other = compare_runs(mine, scratch, zen3)
    assert other["speedup"] is None and other["error_ratio"] == 0.5
    assert other["speedup_note"] == f"none: scratch ran on {zen}, this run on {zen3}; run both on one machine"
    unknown = compare_runs(mine, {**scratch, "cpu_model": "AMD EPYC"}, zen)
    assert unknown["speedup"] == 3.0 and "the same CPU cannot be told" in unknown["speedup_note"]
    case = Case(name="fast", problem="burgers", solver="pinn", bounds={"against.speedup": (3.0, 1e9)})
    assert _passed(case, {"against": same}) and not _passed(case, {"against": other})


def test_a_case_given_another_case_run_as_a_parameter_runs_it_first(tmp_path, one_thread):
    """``param_from`` hands a problem parameter the run folder of another case (here the twin's actuator
    operator), running that case first, and records which run it used."""
    operator = Case(name="tiny-actuators", problem="diesel-actuators", solver="deeponet",
                    settings={"iterations": 20, "n_functions": 20, "n_times": 10, "batch": 10})
    twin = Case(name="tiny-twin-operator", settings=TWIN_TINY, param_from={"actuators": operator.name}, **TWIN)
    with _registered_cases(operator, twin):
        out = tmp_path / "v"
        assert main([twin.name, "--out", str(out), "--no-progress"]) == 0
        first = json.loads((out / "results" / f"{operator.name}.json").read_text())
        stored = json.loads((out / "results" / f"{twin.name}.json").read_text())
        assert stored["param_from"] == {"actuators": {"case": operator.name, "commit": first["commit"],
                                                      "date": first["date"]}}
        assert stored["params"]["actuators"] == str(out / "runs" / operator.name)
    with pytest.raises(ValueError, match=r"\['actuators'\] given both as a parameter and in param_from"):
        Case(name="both", problem="diesel-engine", solver="ode-pinn", params={"actuators": "x"},
             param_from={"actuators": "y"})


def test_a_case_measured_against_a_missing_result_stops_before_training(tmp_path, capsys):
    case = Case(name="tiny-twin-alone", settings=TWIN_TINY, against="no-such-run", **TWIN)
    with _registered_cases(case):
        assert main([case.name, "--out", str(tmp_path), "--no-progress"]) == 1
        assert "measured against 'no-such-run', which has no stored result" in capsys.readouterr().out
        assert not (tmp_path / "runs" / case.name).exists()
        failed = json.loads(failure_path(tmp_path, case.name).read_text())  # kept for the report
        assert failed["case"] == case.name and failed["command"] == f"sciml validate {case.name}"
        assert failed["error"].startswith("ValueError: ") and "'no-such-run'" in failed["error"]


def test_the_report_redraws_a_history_only_from_the_run_folder_of_the_stored_run(tmp_path, tiny_cases):
    from sciml.validation.runner import redraw_history_figures

    _stored(tmp_path, TINY, wall_time_s=12.5, run_dir="runs/tiny-burgers")
    folder = tmp_path / "runs" / "tiny-burgers"
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps([{"step": s, "loss": 1.0 / s, "phase": "adam"} for s in (1, 2, 3)]))
    figure = tmp_path / "figures" / "tiny-burgers-history.png"
    (folder / "metrics.json").write_text(json.dumps({"wall_time_s": 99.0}))  # a folder left by another run
    redraw_history_figures(tmp_path)
    assert not figure.exists()
    (folder / "metrics.json").write_text(json.dumps({"wall_time_s": 12.5}))
    redraw_history_figures(tmp_path)
    assert figure.is_file()


def test_a_class_digest_follows_what_the_class_runs(tmp_path):
    """A problem class's digest changes with the class, a helper it calls and a module constant, and not with
    another class of its module or a docstring."""
    from sciml.validation.runner import _definition_digest

    base = ('"""Module."""\nSCALE = 2.0\n\ndef helper(x):\n    return SCALE * x\n\n'
            'class A:\n    """A."""\n    def f(self, x):\n        return helper(x)\n\n'
            'class B:\n    def f(self, x):\n        return 3 * x\n')
    path = tmp_path / "m.py"

    def digest(text, name="A"):
        path.write_text(text)
        return _definition_digest(path, name)

    a = digest(base)
    assert digest(base.replace("3 * x", "4 * x")) == a                     # another class
    assert digest(base.replace('"""A."""', '"""Another docstring."""')) == a
    assert digest(base.replace("SCALE * x", "SCALE * x + 1")) != a          # the helper it calls
    assert digest(base.replace("SCALE = 2.0", "SCALE = 3.0")) != a          # a module constant
    assert digest(base.replace("return helper(x)", "return helper(x) - 1")) != a
    assert digest(base, "B") != a
    with pytest.raises(ValueError, match="defines no top-level 'C'"):
        digest(base, "C")


def test_results_are_judged_by_their_problem_class(tmp_path):
    """A run of traffic-riemann depends on its class's digest, not on traffic.py as a whole; a result stored
    before class digests is judged by the whole module until add_class_digests gives it its class's digest,
    which it does only to a result that is not stale."""
    from sciml.validation.runner import add_class_digests, changed_code, code_dependencies, code_fingerprint

    used = code_dependencies("traffic-riemann", "pinn")
    assert "sciml.problems.traffic:TrafficRiemann" in used and "sciml.problems.traffic" not in used
    assert "sciml.problems.traffic:Traffic" in code_dependencies("traffic", "pinn")
    current = code_fingerprint()
    key = "sciml.problems.traffic:TrafficRiemann"
    old = {name: digest for name, digest in current.items() if ":" not in name}
    case = {"problem": "traffic-riemann", "solver": "pinn"}
    assert changed_code({"code": old, "case": case}, current) == []
    other = {**current, "sciml.problems.traffic": "0" * 16}             # another class of traffic.py changed
    assert changed_code({"code": old, "case": case}, other) == ["sciml.problems.traffic"]
    assert changed_code({"code": current, "case": case}, other) == []
    assert changed_code({"code": current, "case": case}, {**other, key: "0" * 16}) == [key]

    results = tmp_path / "results"
    results.mkdir()
    (results / "fresh.json").write_text(json.dumps({"code": old, "case": case, "rel_l2": 0.5}))
    (results / "stale.json").write_text(json.dumps({"code": {**old, "sciml.problems.traffic": "0" * 16},
                                                    "case": case, "rel_l2": 0.5}))
    assert add_class_digests(tmp_path, current) == ["fresh"]
    fresh = json.loads((results / "fresh.json").read_text())
    assert fresh["code"][key] == current[key] and fresh["rel_l2"] == 0.5
    assert key not in json.loads((results / "stale.json").read_text())["code"]


def test_the_cpu_is_named_with_its_family_and_model():
    from sciml.validation.runner import cpu_model

    info = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n" * 2
    assert cpu_model(info) == "AMD EPYC (cpu family 23, model 1)"


def _chain():
    """Tiny cases where b starts from a, c is measured against a, e starts from b and d needs none."""
    made = {n: dataclasses.replace(TINY, name=f"tiny-{n}") for n in "ad"}
    made["b"] = dataclasses.replace(TINY, name="tiny-b", init_from="tiny-a")
    made["c"] = dataclasses.replace(TINY, name="tiny-c", against="tiny-a")
    made["e"] = dataclasses.replace(TINY, name="tiny-e", init_from="tiny-b")
    return made


class _Pretend:
    """A stand-in for a case's process: it is done at the clock's ``end``, with exit ``status``; when that
    is 1 it leaves a failure record (the case raised), and a status line in its log, as the runner does. A
    SIGINT stops it at once, with status 130, as it stops a case at its next step."""

    def __init__(self, name, out, status, clock, end, events):
        self.name, self.out, self.status, self.clock, self.end, self.events = name, out, status, clock, end, events

    def poll(self):
        if self.clock[0] < self.end:
            return None
        if ("end", self.name) not in self.events:
            self.events.append(("end", self.name))
            log = self.out / "runs" / f"{self.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            said = {0: "done — rel. L2 = 1.00e-01: pass", 1: "FAILED after 1 s: RuntimeError: no",
                    130: "interrupted after 1 s; its stored result is unchanged"}[self.status]
            log.write_text(f"[1/1] {self.name}: start\n[1/1] {self.name}: {said}\n")
            if self.status == 1:
                record_failure(cases.get(self.name), self.out, RuntimeError("no"), 1.0)
        return self.status

    def send_signal(self, number):
        self.events.append(("signal", self.name, number))
        self.status, self.end = 130, self.clock[0]

    def wait(self):
        if self.poll() is None:
            raise AssertionError(f"waited for {self.name}, which nothing stops")


def _pretend_run(out, chosen, jobs, raising=(), interrupted=(), ctrl_c_at=None, sigint_at=None):
    """``ctrl_c_at``: the clock tick at which the loop sees a KeyboardInterrupt; ``sigint_at``: the tick at
    which this process sends itself a real SIGINT."""
    clock, events, running = [0], [], []

    def launch(name, out_, threads, progress):
        events.append(("start", name))
        running.append(name)
        status = 1 if name in raising else 130 if name in interrupted else 0
        return _Pretend(name, out_, status, clock, clock[0] + 2, events)

    def tick(_):
        if clock[0] == ctrl_c_at:
            raise KeyboardInterrupt
        if clock[0] == sigint_at:
            os.kill(os.getpid(), signal.SIGINT)
        clock[0] += 1
        live = [e for e in events if e[0] == "start" and ("end", e[1]) not in events]
        running.append(len(live))

    import sciml.validation.runner as runner
    sleep, runner.time.sleep = runner.time.sleep, tick
    try:
        code = run_parallel(chosen, out, jobs, progress=False, launch=launch, poll_s=0)
    finally:
        runner.time.sleep = sleep
    return code, events, max(n for n in running if isinstance(n, int))


def test_cases_run_at_once_wait_for_the_cases_they_need(tmp_path, capsys):
    made = _chain()
    with _registered_cases(*made.values()):
        out = tmp_path / "v"
        chosen = [f"tiny-{n}" for n in "ebcda"]
        code, events, most = _pretend_run(out, chosen, jobs=2)
        assert code == 0 and most == 2
        at = {e: k for k, e in enumerate(events)}
        for later, first in (("b", "a"), ("c", "a"), ("e", "b")):
            assert at[("start", f"tiny-{later}")] > at[("end", f"tiny-{first}")], events
        assert sorted(e[1] for e in events if e[0] == "end") == sorted(chosen)
        printed = capsys.readouterr().out
        assert "[5/5] tiny-" in printed and "tiny-e: done — rel. L2 = 1.00e-01: pass" in printed

        # a case that raised: what starts from it or is measured against it is not run; the others are
        code, events, _ = _pretend_run(tmp_path / "w", chosen, jobs=2, raising={"tiny-a"})
        assert code == 1
        assert sorted(e[1] for e in events if e[0] == "start") == ["tiny-a", "tiny-d"]
        printed = capsys.readouterr().out
        assert "tiny-b: not run — tiny-a failed" in printed and "tiny-e: not run — tiny-b failed" in printed
        assert "tiny-a: FAILED after 1 s: RuntimeError: no" in printed

        # a case interrupted on its own (kill -INT): the running ones finish, no other starts
        code, events, _ = _pretend_run(tmp_path / "x", ["tiny-a", "tiny-d", "tiny-b", "tiny-c"], jobs=2,
                                       interrupted={"tiny-a"})
        assert code == 130
        assert [e[1] for e in events if e[0] == "start"] == ["tiny-a", "tiny-d"]
        assert "not started, after the interruption: tiny-b, tiny-c" in capsys.readouterr().out

        # Ctrl-C, or a SIGINT sent to sciml validate alone: each running case is passed one SIGINT
        code, events, _ = _pretend_run(tmp_path / "y", ["tiny-a", "tiny-d", "tiny-b"], jobs=2, ctrl_c_at=1)
        assert code == 130
        assert [e for e in events if e[0] != "end"] == [
            ("start", "tiny-a"), ("start", "tiny-d"), ("signal", "tiny-a", signal.SIGINT),
            ("signal", "tiny-d", signal.SIGINT)]
        printed = capsys.readouterr().out
        assert "interrupted: waiting for tiny-a, tiny-d to stop" in printed
        assert "tiny-d: interrupted after 1 s; its stored result is unchanged" in printed

        # started in the background by a shell (`sciml validate --jobs 2 &`), which ignores SIGINT for it:
        # `kill -INT` still stops it, and what it found is restored when it returns
        ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            code, events, _ = _pretend_run(tmp_path / "z", ["tiny-a", "tiny-d", "tiny-b"], jobs=2, sigint_at=1)
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        finally:
            signal.signal(signal.SIGINT, ignored)
        assert code == 130
        assert [e for e in events if e[0] == "signal"] == [
            ("signal", "tiny-a", signal.SIGINT), ("signal", "tiny-d", signal.SIGINT)]


def test_the_plan_adds_a_source_without_a_run_and_puts_it_first(tmp_path):
    made = _chain()
    with _registered_cases(*made.values()):
        out = tmp_path / "v"
        assert plan(["tiny-e", "tiny-c"], out) == ["tiny-a", "tiny-b", "tiny-e", "tiny-c"]
        for name in ("tiny-a", "tiny-b"):  # with their runs there, neither is run again
            (out / "runs" / name).mkdir(parents=True)
            (out / "runs" / name / "result.pt").write_bytes(b"")
        assert plan(["tiny-e", "tiny-c"], out) == ["tiny-e", "tiny-c"]  # against: stored first, or an error
        assert plan(["tiny-e", "tiny-a", "tiny-b"], out) == ["tiny-a", "tiny-b", "tiny-e"]
    loop = [dataclasses.replace(TINY, name="tiny-x", init_from="tiny-y"),
            dataclasses.replace(TINY, name="tiny-y", init_from="tiny-x")]
    with _registered_cases(*loop), pytest.raises(ValueError, match="cycle: tiny-x -> tiny-y -> tiny-x"):
        plan(["tiny-x"], tmp_path / "w")


def test_two_cases_run_at_once_each_in_its_own_process(tmp_path, capsys):
    out = tmp_path / "v"
    names = ["phase-field-1d-at1", "poisson-engd-lbfgs-seed2"]
    assert main([*names, "--out", str(out), "--jobs", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in names:
        stored = json.loads((out / "results" / f"{name}.json").read_text())
        assert stored["case"]["name"] == name and stored["rel_l2"] < 1e-3  # 2.7e-6 and 1.9e-5 when written
        assert f"{name}: done" in (out / "runs" / f"{name}.log").read_text()
        assert re.search(rf"\[[12]/2\] {name}: done — rel. L2 = ", printed)
    assert all(f"[{name}]" in (out / "REPORT.md").read_text() for name in names)
    with pytest.raises(ValueError, match="--jobs must be a positive number of cases run at once, got 0"):
        main(["phase-field-1d-at1", "--out", str(out), "--jobs", "0"])

