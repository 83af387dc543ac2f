"""``sciml validate``: run validation cases and regenerate the report.

For each case: ``sciml.run`` into ``OUT/runs/CASE`` (large, not committed), then the figures
``OUT/figures/CASE-comparison.png`` and ``OUT/figures/CASE-history.png``, and the stored result
``OUT/results/CASE.json`` (the run's metrics.json plus the case and the machine). ``OUT/REPORT.md``
is then regenerated from every stored result, so running one case updates only its row.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from . import cases as registry

HERE = Path(__file__).resolve().parent
REPORT = "REPORT.md"
BENCHMARK_RESULTS = HERE.parent / "benchmarks" / "results"
"""Where ``sciml bench`` writes its JSON and figures in a source checkout."""
IGNORE = "runs/\n"


# -- formatting ------------------------------------------------------------------------------------
def fmt_error(value: float | None) -> str:
    """A relative error as the report prints it (``1.23e-03``)."""
    return "—" if value is None else f"{value:.2e}"


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


# -- the machine -----------------------------------------------------------------------------------
def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name with its family and model numbers (``/proc/cpuinfo`` on Linux: a virtual
    machine may name two CPU generations alike, e.g. "AMD EPYC", whose speed and floating-point kernels
    differ), else what ``platform`` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    numbers = [f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields]
    return fields["model name"] + (f" ({', '.join(numbers)})" if numbers else "")


def git_state(root: Path, excluded: tuple[str, ...] = (), short: bool = False) -> tuple[str, bool] | None:
    """The git commit checked out at ``root`` (12 hex digits when ``short``) and whether tracked files other
    than the pathspecs ``excluded`` differ from it; None outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", *(["--short=12"] if short else []), "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                *(f":!{p}" for p in excluded)],
                               cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit, bool(dirty)


def source_commit() -> str | None:
    """The git commit of the code that runs (``+dirty`` when tracked files other than the validation
    outputs differ from it), so a stored result names the code that produced it; None outside a git
    checkout."""
    state = git_state(HERE.parent, tuple(f"{HERE.name}/{p}" for p in ("results", "figures", "*.md")), short=True)
    return None if state is None else state[0] + ("+dirty" if state[1] else "")


CODE_PACKAGES = ("sciml", "sciml.problems", "sciml.solvers")
"""Packages whose source can change a result (the validation and benchmark code cannot)."""


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _digest(path: Path) -> str:
    """sha256 (16 hex digits) of a source file: a Python file by its syntax tree without docstrings, so
    an edit to a comment or a docstring does not make results stale; any other file by its bytes."""
    data = path.read_bytes()
    if path.suffix == ".py":
        data = ast.dump(_without_docstrings(ast.parse(data))).encode()
    return hashlib.sha256(data).hexdigest()[:16]


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _definition_digest(path: Path, name: str) -> str:
    """sha256 (16 hex digits) of what the top-level class or function ``name`` of a module runs: every
    top-level statement that defines nothing (imports, constants, registrations), ``name``'s definition and
    the top-level definitions these refer to by name, transitively, without docstrings. A change to another
    class of the module that none of these names leaves it as it was."""
    tree = _without_docstrings(ast.parse(path.read_bytes()))
    defined = {node.name: node for node in tree.body if isinstance(node, DEFINITIONS)}
    if name not in defined:
        raise ValueError(f"{path} defines no top-level {name!r}")
    chosen, todo = {name}, [defined[name], *(n for n in tree.body if not isinstance(n, DEFINITIONS))]
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Name) and node.id in defined and node.id not in chosen:
                chosen.add(node.id)
                todo.append(defined[node.id])
    body = [n for n in tree.body if not isinstance(n, DEFINITIONS) or n.name in chosen]
    return hashlib.sha256(ast.dump(ast.Module(body=body, type_ignores=[])).encode()).hexdigest()[:16]


def _problem_classes() -> dict[str, tuple[str, str]]:
    """Each registered problem's ``module:Class`` key, with its module and class name."""
    from sciml import registry

    targets = registry._group("sciml.problems").values()
    return {target: tuple(target.split(":")) for target in targets}


def _code_sources() -> dict[str, Path]:
    """Every module (``sciml.api``) and native source (``sciml.native/jet_mlp.cpp``) of the packages
    that compute results, keyed by name, with its file."""
    import importlib

    found: dict[str, Path] = {}
    for package in CODE_PACKAGES:
        root = Path(importlib.import_module(package).__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".cpp") or not path.is_file():
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if path.suffix == ".py":
                name = ".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else [parts[-1]])))
            else:
                name = ".".join((package, *parts[:-1])) + "/" + path.name
            if name.startswith(("sciml.validation", "sciml.benchmarks")) or (
                    package == "sciml" and name.startswith(("sciml.problems", "sciml.solvers"))):
                continue  # not result code, or the installed layout's copy of another package here
            found[name] = path
    return found


DATA_SUFFIXES = (".npz", ".vtu", ".csv")
"""Suffixes of the bundled data files (:mod:`sciml.data`) that a result can be computed from."""


def _data_files() -> dict[str, Path]:
    """Every bundled data file, keyed ``sciml.data/NAME.SUFFIX``."""
    from sciml import data

    return {f"sciml.data/{path.name}": path for path in sorted(data.HERE.iterdir()) if path.suffix in DATA_SUFFIXES}


def _named_data(tree: ast.AST, files: dict[str, Path]) -> set[str]:
    """The bundled files of ``files`` that the source ``tree`` loads, as :mod:`sciml.data` is called:
    a ``load`` or ``path`` call whose first argument is a file's stem (``bundled.load("lattice_fracture")``)
    or an f-string whose literal head begins one (``data.path(f"lid_driven_cavity_re{re:g}", "vtu")``)."""
    stems, heads = set(), set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("load", "path") and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            stems.add(first.value)
        elif isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
            heads.add(str(first.values[0].value))
    return {key for key, path in files.items()
            if path.stem in stems or any(head and path.stem.startswith(head) for head in heads)}


def code_fingerprint() -> dict[str, str]:
    """The digest of every module and native source of the packages that compute results, keyed by
    name (see :func:`_code_sources`), of every registered problem class within its module, keyed
    ``module:Class`` (:func:`_definition_digest`), and of every bundled data file, keyed
    ``sciml.data/NAME.SUFFIX`` (:func:`_data_files`), so a stored result can tell which code or data
    changed since it ran."""
    sources = _code_sources()
    digests = {name: _digest(path) for name, path in sources.items()}
    digests.update({name: _digest(path) for name, path in _data_files().items()})
    for key, (module, name) in _problem_classes().items():
        if module in sources:
            digests[key] = _definition_digest(sources[module], name)
    return digests


def _imported(tree: ast.AST, module: str, is_package: bool, known: set[str],
              classes: dict[str, str]) -> set[str]:
    """The modules of ``known`` that the source ``tree`` of ``module`` imports, anywhere in it (a
    function-level import too), with the packages above each (importing ``a.b`` runs ``a``).
    ``from sciml.problems import Burgers`` goes through the registry's lazy exports: ``classes`` maps
    such a class to the module that defines it."""
    base = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                anchor = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
                source = f"{anchor}.{source}" if source else anchor
            names.add(source)
            for alias in node.names:
                names.add(f"{source}.{alias.name}")
                if f"{source}.{alias.name}" in classes:
                    names.add(classes[f"{source}.{alias.name}"])
    found = set()
    for name in names:
        parts = name.split(".")
        found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return found & known


@functools.lru_cache(maxsize=None)
def code_dependencies(problem: str, solver: str) -> frozenset[str]:
    """The result code a run of ``problem`` with ``solver`` executes: the modules that
    :func:`sciml.run`, the problem's module and the solver's module import, transitively, the
    native sources of any package among them and the bundled data files these modules name
    (:func:`_named_data`). Other problems and solvers, which the registry loads
    by name only when asked, are not among them, so a change to one does not make this run stale.
    When no other of these modules imports the problem's module, the run executes only the problem's class
    there and what it refers to: its ``module:Class`` digest stands for the module, so a change to another
    problem of the same module does not make this run stale either."""
    from sciml import registry

    sources = _code_sources()
    classes = {f"{group}.{target.partition(':')[2]}": target.partition(":")[0]  # the registry's own targets
               for group in ("sciml.problems", "sciml.solvers") for target in registry._group(group).values()}
    cls = registry.problem(problem)
    home = cls.__module__
    todo = ["sciml.api", home, registry.solver(solver).__module__]
    files = _data_files()
    seen: set[str] = set()
    data: set[str] = set()
    imported: set[str] = set()  # modules that a module other than the problem's own imports
    while todo:
        module = todo.pop()
        if module in seen or module not in sources:
            continue
        seen.add(module)
        path = sources[module]
        tree = ast.parse(path.read_bytes())
        data |= _named_data(tree, files)
        found = _imported(tree, module, path.name == "__init__.py", set(sources), classes)
        if module != home:
            imported |= found
        todo.extend(found - seen)
    native = {name for name in sources if "/" in name and name.partition("/")[0] in seen}
    key = f"{home}:{cls.__name__}"
    if home in sources and home not in imported and key in _problem_classes():
        seen = (seen - {home}) | {key}
    return frozenset(seen | native | data)


def machine_text(result: dict[str, Any]) -> str:
    """Device name and CPU count of a stored result, for the report."""
    device = result.get("device_name") or result.get("device") or "?"
    cpus = result.get("cpu_count")
    parts = [str(device)]
    if result.get("cpu_model") and not str(device).startswith("cpu"):
        parts.append(f"host {result['cpu_model']}")
    elif result.get("cpu_model"):
        parts.append(str(result["cpu_model"]))
    if cpus:
        parts.append(f"{cpus} CPUs")
    return ", ".join(parts)


# -- history -----------------------------------------------------------------------------------------
PHASE_NAMES = {"adam": "Adam", "lbfgs": "L-BFGS", "ssbroyden": "SSBroyden", "ssbfgs": "SSBFGS", "bfgs": "BFGS",
               "engd": "ENGD"}
"""How the report and the figures name a training phase (:attr:`sciml.training.TrainConfig.second_phase`)."""


def phase_name(phase: str) -> str:
    """A phase as the report prints it ("lbfgs" -> "L-BFGS"); an unknown one as it is."""
    return PHASE_NAMES.get(phase, phase)


def history_series(history: list[dict[str, Any]], optimizer: str | None = None) -> dict[str, Any]:
    """Steps, losses, loss terms and recorded errors of a training history on one step axis.

    Adam records count Adam steps; the records of the phase after Adam (L-BFGS, or a second-order
    optimiser: "ssbroyden", "ssbfgs", "bfgs", "engd") count its iterations after the last Adam step.
    The record the trainer writes when that phase ends early carries the phase "done" and belongs to
    it; ``optimizer`` (the run's setting, "adam-lbfgs" meaning "lbfgs") names the phase when no other
    record does. Returns ``step``, ``loss``, ``terms`` {name: values}, ``rel_l2`` [(step, value)],
    ``boundary`` (the step where the second phase starts, or None), ``adam`` (Adam steps run),
    ``second`` (the second phase's name, or None when it did not run), ``second_steps`` (its steps)
    and ``lbfgs`` (the L-BFGS steps: ``second_steps`` when the second phase is L-BFGS, else 0).
    """
    skip = {"phase", "step", "loss", "lr", "time", "rel_l2"}
    named = [r["phase"] for r in history if r.get("phase") not in ("adam", "done", None)]
    second = named[0] if named else None
    if second is None and any(r.get("phase") == "done" for r in history):
        second = _second_phase(optimizer)

    def in_second(r: dict[str, Any]) -> bool:
        return r.get("phase") in (second, "done") and second is not None

    adam = max((int(r["step"]) for r in history if r.get("phase") == "adam"), default=0)
    second_steps = max((int(r["step"]) for r in history if in_second(r)), default=0)
    steps, losses, rel = [], [], []
    terms: dict[str, list[float]] = {}
    for r in history:
        x = int(r["step"]) + (adam if in_second(r) else 0)
        steps.append(x)
        losses.append(float(r["loss"]))
        for key, value in r.items():
            if key not in skip and isinstance(value, (int, float)):
                terms.setdefault(key, []).append(float(value))
        if r.get("rel_l2") is not None:
            rel.append((x, float(r["rel_l2"])))
    terms = {k: v for k, v in terms.items() if len(v) == len(steps)}
    # An L-BFGS record's "loss" is what torch's LBFGS.step returns: the loss at the *start* of the
    # chunk, while its terms come from the last evaluation in it. When the terms are the loss terms
    # (they sum to the loss on the Adam records), their sum is the loss at the recorded step. (The
    # other second-order phases record the loss at the step they end on.)
    adam_rows = [k for k, r in enumerate(history) if r.get("phase") == "adam"]
    if second == "lbfgs" and terms and adam_rows and all(
            abs(sum(v[k] for v in terms.values()) - losses[k]) <= 1e-5 * abs(losses[k]) + 1e-30 for k in adam_rows[:5]):
        losses = [sum(v[k] for v in terms.values()) if in_second(history[k]) else losses[k]
                  for k in range(len(steps))]
    return {"step": steps, "loss": losses, "terms": terms, "rel_l2": rel,
            "boundary": adam if second_steps and adam else None, "adam": adam, "second": second,
            "second_steps": second_steps, "lbfgs": second_steps if second == "lbfgs" else 0}


def _second_phase(optimizer: str | None) -> str:
    """The phase after Adam for a run's ``optimizer`` setting, named as the history names it
    (:attr:`sciml.training.TrainConfig.second_phase`): "lbfgs" for "adam-lbfgs" and for runs from
    before the setting existed (None), else the optimiser's own name."""
    return "lbfgs" if optimizer in (None, "adam-lbfgs") else optimizer


def steps_run(series: dict[str, Any]) -> dict[str, int]:
    """The steps run in each phase, as a stored result records them: ``{"adam": N, PHASE: M}`` with
    PHASE the phase after Adam ("lbfgs" when none ran)."""
    return {"adam": series["adam"], series["second"] or "lbfgs": series["second_steps"]}


def plot_history(history: list[dict[str, Any]], path: Path, title: str = "", final_rel_l2: float | None = None,
                 optimizer: str | None = None) -> Path:
    """Loss vs optimiser step (log scale), the switch from Adam to the phase after it (L-BFGS or the
    second-order ``optimizer``) marked, and the error against the reference vs step where the history
    records it (``eval_every``)."""
    from sciml.plotting import save_figure, subplots

    s = history_series(history, optimizer)
    second = phase_name(s["second"] or "lbfgs")
    fig, ax = subplots(figsize=(8, 4.5))
    if s["step"]:
        ax.semilogy(s["step"], s["loss"], color="k", lw=1.4, label="total loss")
        if len(s["terms"]) > 1:
            for k, (name, values) in enumerate(s["terms"].items()):
                ax.semilogy(s["step"], values, lw=0.8, alpha=0.7, color=f"C{k + 2}", label=f"term: {name}")
    if s["boundary"] is not None:
        ax.axvline(s["boundary"], color="C1", ls="--", lw=1.2)
        ax.text(s["boundary"], 0.98, f"  Adam → {second}", color="C1", va="top", ha="left",
                transform=ax.get_xaxis_transform(), fontsize=9)
    ax.set_xlabel(f"optimiser step [Adam steps, then {second} iterations]")
    ax.set_ylabel("training loss [–]")
    ax.grid(True, which="both", alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    if s["rel_l2"]:  # the error against the reference was recorded during training (eval_every)
        ax2 = ax.twinx()
        xs, ys = zip(*s["rel_l2"])
        ax2.semilogy(xs, ys, color="C0", marker=".", ms=3, lw=1.0, label="rel. L2 error vs reference")
        if final_rel_l2 is not None and s["step"]:
            ax2.semilogy([s["step"][-1]], [final_rel_l2], "o", color="C3", ms=7,
                         label=f"final rel. L2 = {fmt_error(final_rel_l2)}")
        ax2.set_ylabel("relative L2 error vs reference [–]", color="C0")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    elif final_rel_l2 is not None:
        title = (title + "\n" if title else "") + (f"final rel. L2 vs reference = {fmt_error(final_rel_l2)} "
                                                   "(not recorded during training: eval_every = 0)")
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncol=min(len(handles), 3), frameon=False)
    if title:
        ax.set_title(title)
    return save_figure(fig, path, bbox_inches="tight")


# -- running a case ----------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_case(case: registry.Case, out: Path, progress: bool = True) -> dict[str, Any]:
    """Train ``case`` into ``out/runs/NAME``, write its figures and ``out/results/NAME.json``."""
    from sciml.api import run

    run_dir = out / "runs" / case.name
    kwargs = case.kwargs()
    if case.init_from:
        kwargs["init"] = str(_trained(case.init_from, out, progress))
    for param, name in case.param_from.items():
        kwargs[param] = str(_trained(name, out, progress))
    baseline = _against(case, out)
    if run_dir.is_dir():  # a fresh run, not a resumed one: no stale checkpoint or files
        shutil.rmtree(run_dir)
    if not progress:
        kwargs["progress"] = False
    started = _dt.datetime.now(_dt.timezone.utc)
    commit, code = source_commit(), code_fingerprint()  # the code the run loads, as it is when it begins
    load_start = _load()
    result = run(case.problem, case.solver, out=run_dir, **kwargs)
    load_end = _load()
    if code_fingerprint() != code:  # a module edited while the run went on may or may not have been loaded
        commit = (commit or "no commit") + "+changed-during-run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if result.interrupted:  # keep the last complete result, figures and report row as they were
        return {**metrics, "interrupted": True, "stored": False}
    history = json.loads((run_dir / "history.json").read_text())
    if case.init_from:
        metrics["init_from"] = _stored_run(case.init_from, out)
    if case.param_from:
        metrics["param_from"] = {param: _stored_run(name, out) for param, name in case.param_from.items()}
    if baseline is not None:
        metrics["against"] = compare_runs(metrics, baseline, cpu_model())

    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    shown = {}
    if (run_dir / "comparison.png").is_file():  # problems without a reference field have none
        shown["comparison"] = (figures / f"{case.name}-comparison.png").relative_to(out).as_posix()
        shutil.copyfile(run_dir / "comparison.png", out / shown["comparison"])
    # a solver that does not train (finite elements) has no loss history to draw
    hist_png = history_figure(case.name, case, history, metrics, out) if history else None
    extra = {}
    for fname in metrics.get("extra_figures", []):  # the problem's own figures (Problem.figures)
        target = figures / f"{case.name}-{fname}"
        shutil.copyfile(run_dir / fname, target)
        extra[Path(fname).stem] = target.relative_to(out).as_posix()
    series = history_series(history, metrics.get("settings", {}).get("optimizer"))
    own = getattr(result.solver, "figures", None)  # figures a solver draws of its own state
    if own:
        extra.update({k: p.relative_to(out).as_posix() for k, p in own(history, figures / case.name).items()})

    record = dict(metrics)
    record.update({
        "case": case.to_dict(),
        "passed": _passed(case, metrics),
        "date": utc_date(started),
        "commit": commit,
        "code": code,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "torch": _torch_version(),
        "steps_run": steps_run(series),
        "command": f"sciml validate {case.name}",
        "run_dir": run_dir.relative_to(out).as_posix(),
        "figures": {**shown, **({"history": hist_png.relative_to(out).as_posix()} if hist_png else {}), **extra},
        "load_average": {"start": load_start, "end": load_end},
        "interrupted": False,
    })
    if case.study in registry.STUDIES:  # the study's target as it was when this run was made
        record["study"] = dataclasses.asdict(registry.STUDIES[case.study])
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{case.name}.json").write_text(json.dumps(_jsonable(record), indent=2) + "\n")
    failure_path(out, case.name).unlink(missing_ok=True)
    return record


def utc_date(when: _dt.datetime | None = None) -> str:
    """How every stored result, failure record and study dates its run, to the minute in UTC
    (``2026-12-06 13:50 UTC``): ``when``, or now."""
    return (when or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")


def failure_path(out: Path, name: str) -> Path:
    """Where :func:`record_failure` keeps the last failed run of case ``name``."""
    return out / "results" / "failed" / f"{name}.json"


def record_failure(case: registry.Case, out: Path, error: BaseException, after_s: float) -> None:
    """Keep what a run of ``case`` that raised leaves to say, in ``results/failed/NAME.json``: the error,
    when, after how long, at which commit and on which CPU, so that the report shows the failure (a stored
    result of an earlier run stays as it was). The next run of the case that succeeds removes it."""
    path = failure_path(out, case.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "case": case.name, "error": f"{type(error).__name__}: {error}", "after_s": after_s,
        "date": utc_date(), "commit": source_commit(),
        "cpu_model": cpu_model(), "command": f"sciml validate {case.name}"}, indent=2) + "\n")


def _read_records(folder: Path, what: str) -> dict[str, dict[str, Any]]:
    """Every JSON file in ``folder`` (none when there is no folder), by name without ``.json``; a file that
    cannot be read or parsed is skipped with a warning naming it and ``what`` it should have held."""
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            print(f"warning: skipping unreadable {what} {path}: {err}", file=sys.stderr)
    return found


def load_failures(out: Path) -> dict[str, dict[str, Any]]:
    """The failed runs :func:`record_failure` kept in ``out``, by case name."""
    return _read_records(out / "results" / "failed", "failure record")


def failure_lines(failures: dict[str, dict[str, Any]]) -> list[str]:
    """The report's table of the failed runs (:func:`record_failure`), none when there are none."""
    if not failures:
        return []
    lines = ["", "### Runs that failed", "", "The last run of each of these cases raised; a result stored by an earlier "
             "run of the case, if any, is the one shown above.", "",
             "| case | date | commit | failed after | machine | error |", "|---|---|---|---|---|---|"]
    for name, failed in failures.items():
        lines.append("| " + " | ".join(_cell(c) for c in (
            name, failed["date"], f"`{failed['commit']}`" if failed.get("commit") else "— (none recorded)",
            fmt_time(failed["after_s"]), failed.get("cpu_model") or "—", failed["error"])) + " |")
    return lines


def same_cpu(a: str | None, b: str | None) -> bool | None:
    """Whether two results' CPUs (:func:`cpu_model`) are the same kind: False when their names differ, or
    their family and model numbers where both record them; None (unknown) when one is missing or records
    only a name that two generations share."""
    if not a or not b:
        return None
    if all("(cpu family" in name for name in (a, b)) or a.split(" (cpu family")[0] != b.split(" (cpu family")[0]:
        return a == b
    return None


def compare_runs(mine: dict[str, Any], theirs: dict[str, Any], cpu: str | None) -> dict[str, Any]:
    """A run on CPU ``cpu`` against the stored result of the case it is measured against
    (:attr:`Case.against`): that case's wall time, CPU and parameter errors, the speed-up (its wall time over
    this run's), each parameter's error ratio (this run's over its) and the largest. Wall times of different
    CPUs are no speed-up: then ``speedup`` is None (a bound on it fails) and ``speedup_note`` says why, as it
    does when the same CPU cannot be told (:func:`same_cpu`)."""
    base = registry.parameter_errors(theirs)
    ratios = registry.parameter_error_ratios(mine, theirs)
    theirs_cpu = theirs.get("cpu_model")
    same = same_cpu(cpu, theirs_cpu)
    speedup = theirs["wall_time_s"] / mine["wall_time_s"] if same is not False else None
    out = {"case": theirs["case"]["name"], "commit": theirs.get("commit"), "wall_time_s": theirs["wall_time_s"],
           "cpu_model": theirs_cpu, "rel_errors": base, "speedup": speedup, "error_ratios": ratios,
           "error_ratio": max(ratios.values()) if ratios else None}
    if same is False:
        out["speedup_note"] = (f"none: {theirs['case']['name']} ran on {theirs_cpu}, this run on {cpu}; run both "
                               "on one machine")
    elif same is None:
        out["speedup_note"] = (f"the same CPU cannot be told: {theirs['case']['name']} ran on "
                               f"{theirs_cpu or 'an unrecorded CPU'}, this run on {cpu or 'an unrecorded CPU'}")
    return out


def _stored(name: str, out: Path) -> dict[str, Any] | None:
    """The stored result of case ``name`` in ``out/results`` (None when there is none); a ``ValueError``
    naming the file when it cannot be read."""
    path = out / "results" / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"the stored result {path} cannot be read ({err}); run `sciml validate {name}` "
                         "again to replace it") from None


def _against(case: registry.Case, out: Path) -> dict[str, Any] | None:
    """The stored result of the case ``case`` is measured against (None when it names none); an error
    before any training when that result is missing."""
    if not case.against:
        return None
    record = _stored(case.against, out)
    if record is None:
        raise ValueError(f"case {case.name!r} is measured against {case.against!r}, which has no stored result: "
                         f"run `sciml validate {case.against}` first")
    return record


def _has_run(name: str, out: Path) -> bool:
    """Whether the run folder of case ``name`` holds a trained result another case can start from."""
    return (out / "runs" / name / "result.pt").is_file()


def _trained(name: str, out: Path, progress: bool) -> Path:
    """The run folder of case ``name``, which another case starts from or uses; the case is run first when
    the folder holds no result."""
    if not _has_run(name, out):
        run_case(registry.get(name), out, progress)
    return out / "runs" / name


def _stored_run(name: str, out: Path) -> dict[str, Any]:
    """Which run of case ``name`` another started from: its commit and date as stored (None when the run
    was made outside the runner's record)."""
    record = _stored(name, out) or {}
    return {"case": name, "commit": record.get("commit"), "date": record.get("date")}


def history_figure(name: str, case: registry.Case, history: list[dict[str, Any]], metrics: dict[str, Any],
                   out: Path) -> Path:
    path = out / "figures" / f"{name}-history.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return plot_history(history, path, title=f"{name}: {case.problem} / {case.solver}",
                        final_rel_l2=metrics.get("rel_l2"), optimizer=(metrics.get("settings") or {}).get("optimizer"))


def redraw_history_figures(out: Path) -> None:
    """Redraw the history figure of every stored result whose run folder is still there and holds that
    run (its metrics.json the same training time): a folder left by another run of the case, on another
    checkout or commit, would draw that run's history under this result."""
    for record in load_results(out):
        name = record["case"]["name"]
        folder = out / record.get("run_dir", f"runs/{name}")
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
        if metrics.get("wall_time_s") is None or metrics.get("wall_time_s") != record.get("wall_time_s"):
            continue
        steps = json.loads((folder / "history.json").read_text()) if (folder / "history.json").is_file() else []
        if steps:
            history_figure(name, registry.Case.from_dict(record["case"]), steps, record, out)


def _load() -> float | None:
    """The 1-minute load average (other processes share the CPUs and slow the run), where known."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _torch_version() -> str:
    import torch

    return torch.__version__


# -- the report --------------------------------------------------------------------------------------
def load_results(out: Path) -> list[dict[str, Any]]:
    """Every stored result in ``out/results``, registered cases first in registry order."""
    found = _read_records(out / "results", "result")
    order = {name: k for k, name in enumerate(registry.names())}
    return [found[n] for n in sorted(found, key=lambda n: (order.get(n, len(order)), n))]


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("problem", "solver", "params", "settings")
    return _jsonable({k: a.get(k) for k in keys}) == _jsonable({k: b.get(k) for k in keys})


def changed_code(record: dict[str, Any], current: dict[str, str] | None = None) -> list[str] | None:
    """The modules and bundled data files that ``record``'s run uses (:func:`code_dependencies`) whose
    digest differs from what produced it (None when it recorded none). A result stored before data
    digests were recorded is judged by its code alone."""
    if not record.get("code"):
        return None
    current = code_fingerprint() if current is None else current
    code, case = record["code"], record["case"]
    try:
        used = code_dependencies(case["problem"], case["solver"])
    except ValueError:  # a problem or solver no longer registered: judge it by all the code
        used = set(code)
    # a result stored before class digests is judged by its problem's whole module
    used = {name.partition(":")[0] if ":" in name and name not in code else name for name in used}
    return sorted(name for name, digest in code.items() if name in used and current.get(name) != digest)


def add_class_digests(out: Path, current: dict[str, str] | None = None) -> list[str]:
    """Give every stored result that predates class digests and is not stale the ``module:Class`` digest of
    its problem (:func:`code_fingerprint`): its module's digest equals the current one, so the current
    class digest is the one of the code it ran. Returns the names of the results it rewrote."""
    current = code_fingerprint() if current is None else current
    added = []
    for path in sorted((out / "results").glob("*.json")):
        record = json.loads(path.read_text())
        code, case = record.get("code"), record.get("case", {})
        try:
            used = code_dependencies(case["problem"], case["solver"])
        except (KeyError, ValueError):
            continue
        keys = [name for name in used if ":" in name and name not in (code or {})]
        if not code or not keys or changed_code(record, current) != []:
            continue
        record["code"] = {**code, **{key: current[key] for key in keys}}
        path.write_text(json.dumps(record, indent=2) + "\n")
        added.append(path.stem)
    return added


def _describe(record: dict[str, Any], code: dict[str, str] | None = None) -> tuple[registry.Case, str]:
    """The case to describe a stored result with (the registered one when it still matches) and a
    note when the result is stale (its case or the code that computes it changed since it ran, or it
    recorded no code to compare) or its case is no longer registered."""
    stored = registry.Case.from_dict(record["case"])
    rerun = f"rerun `sciml validate {stored.name}`"
    try:
        current = registry.get(stored.name)
    except ValueError:
        return stored, "case no longer registered"
    if not _same_run(current.to_dict(), record["case"]):
        return stored, f"stale: the case changed since this run; {rerun}"
    changed = changed_code(record, code)
    if changed is None:
        return current, f"stale: this run recorded no code fingerprint to compare with; {rerun}"
    if changed:
        shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
        return current, f"stale: the code or bundled data changed since this run ({shown}); {rerun}"
    return current, ""


def outdated(names: Sequence[str], out: Path, code: dict[str, str] | None = None) -> list[str]:
    """The cases of ``names`` without a readable stored result in ``out`` or whose result is stale
    (:func:`_describe`), in the order given."""
    code = code_fingerprint() if code is None else code
    stored = _read_records(out / "results", "result")
    return [name for name in names
            if name not in stored or _describe(stored[name], code)[1].startswith("stale")]


def _criteria(case: registry.Case) -> tuple[Any, dict]:
    return case.target, {k: list(v) for k, v in (case.bounds or {}).items()}


def _verdict(case: registry.Case, record: dict[str, Any]) -> str:
    """The result against the target and bounds the case had when the run was made; a verdict against
    a target or bounds set or changed after the run says so."""
    stored = registry.Case.from_dict(record["case"])
    if _criteria(stored) == _criteria(case):
        return _status(case, record)
    if stored.target is None and not stored.bounds:
        return f"{_status(case, record)} (against a target set after this run)"
    return f"{_status(case, record)} (against a target changed after this run; then: {_status(stored, record)})"


def metric_value(record: dict[str, Any], metric: str) -> Any:
    """The entry ``metric`` of a stored result; a dotted name reaches into nested entries
    (``extra_metrics.rel_error_h_tot``). None when absent."""
    value: Any = record
    for key in metric.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _within(record: dict[str, Any], metric: str, bound: tuple[float, float]) -> bool:
    value = metric_value(record, metric)
    return isinstance(value, (int, float)) and bound[0] <= value <= bound[1]


def _passed(case: registry.Case, record: dict[str, Any]) -> bool | None:
    """Whether the target and every bound hold (None when the case sets neither)."""
    if case.target is None and not case.bounds:
        return None
    ok = case.target is None or (record.get("rel_l2") is not None and record["rel_l2"] <= case.target)
    return ok and all(_within(record, k, b) for k, b in case.bounds.items())


def _status(case: registry.Case, record: dict[str, Any]) -> str:
    if record.get("interrupted"):
        return "interrupted"
    passed = _passed(case, record)
    return "no target" if passed is None else "pass" if passed else "FAIL"


def _published_value(p: registry.Published) -> str:
    """A published value as the report prints it: a relative L2 as an error, any other with its metric."""
    return fmt_error(p.value) if p.metric == registry.REL_L2 else f"{p.metric} = {p.value:.5g}"


def _bounds_lines(case: registry.Case, record: dict[str, Any], ref_number) -> list[str]:
    """Report lines for the problem's own metrics (``problem_metrics``), their published values and the
    case's bounds on them; ``ref_number`` numbers a citation as in the list under the summary table."""
    names = list(dict.fromkeys(list(record.get("problem_metrics") or []) + list(case.bounds)))
    if not names:
        return []
    lines = ["| metric | measured | published | acceptance interval | result |", "|---|---|---|---|---|"]
    for metric in names:
        value = metric_value(record, metric)
        shown = f"{value:.5g}" if isinstance(value, (int, float)) else "—"
        if metric == "against.speedup" and (record.get("against") or {}).get("speedup_note"):
            shown += f" ({_cell(record['against']['speedup_note'])})"
        published = "<br>".join(f"{p.value:.5g} [{ref_number(p.citation)}]" for p in case.published
                                if p.metric == metric) or "—"
        if metric in case.bounds:
            low, high = case.bounds[metric]
            interval = f"[{low:.5g}, {high:.5g}]"
            verdict = "pass" if _within(record, metric, (low, high)) else "FAIL"
        else:
            interval, verdict = "— (reported, no bound)", "—"
        lines.append(f"| {_cell(metric)} | {shown} | {published} | {interval} | {verdict} |")
    return lines + [""]


def _steps_text(record: dict[str, Any]) -> str:
    """The steps run in each phase, e.g. "1,000 Adam + 8,000 SSBroyden" ("—" when none recorded)."""
    steps = record.get("steps_run") or {}
    return " + ".join(f"{n:,} {phase_name(phase)}" for phase, n in steps.items() if n) or "—"


def _load_text(record: dict[str, Any]) -> str:
    load = record.get("load_average") or {}
    if load.get("start") is None or load.get("end") is None:
        return ""
    return (f"; 1-minute load average {load['start']:g} at the start and {load['end']:g} at the end "
            f"(above the CPU count, other processes were sharing the machine and the wall time is longer)"
            if max(load["start"], load["end"]) > (record.get("cpu_count") or 1) else
            f"; 1-minute load average {load['start']:g} at the start and {load['end']:g} at the end")


def comparison_table(described: list[tuple[dict[str, Any], registry.Case, str]]) -> list[str]:
    """Cases that name a ``compare`` row side by side: one row per label, one column per solver,
    each cell the relative L2, its verdict and the wall time."""
    rows: dict[str, dict[str, str]] = {}
    solvers: list[str] = []
    for record, case, _ in described:
        if not case.compare:
            continue
        solvers += [case.solver] if case.solver not in solvers else []
        rows.setdefault(case.compare, {})[case.solver] = (
            f"{fmt_error(record['rel_l2'])} ({_verdict(case, record)}), {fmt_time(record.get('wall_time_s'))}")
    if not rows:
        return []
    lines = ["", "### Side by side", "", "Relative L2 against the reference (verdict against the case's target), "
             "training wall time; the machine and load of each run are in its section below.", "",
             "| problem | " + " | ".join(f"`{s}`" for s in solvers) + " |", "|---" * (len(solvers) + 1) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in [label] + [cells.get(s, "—") for s in solvers]) + " |"
              for label, cells in rows.items()]
    return lines


def optimizer_benchmark(problem: str, out: Path, results: Path = BENCHMARK_RESULTS) -> list[str]:
    """The figure of ``sciml bench optimizers`` for ``problem`` (error and loss against training wall
    time, one curve per optimiser after the same Adam steps) with each optimiser's final error and time,
    and the run's machine, commit and load, when ``results`` holds its JSON; the image path is relative
    to the report's folder ``out``."""
    path = results / f"optimizers-{problem}.json"
    if not path.is_file():
        return []
    saved = json.loads(path.read_text())
    config, machine = saved["config"], saved.get("machine") or {}
    load = saved.get("loadavg_1m") or {}
    finals = "; ".join(f"{phase_name(_second_phase(name))} {fmt_error(error)} in {fmt_time(saved['train_s'][name])}"
                       for name, error in saved["final_rel_l2"].items())
    ran = []
    if machine.get("commit"):
        dirty = " with uncommitted changes" if machine.get("uncommitted_changes") else ""
        ran.append(f"commit `{str(machine['commit'])[:12]}`{dirty}")
    if machine.get("cpu"):
        ran.append(machine["cpu"])
    if load:
        ran.append(f"1-minute load {load['before']:.2f} before and {load['after']:.2f} after")
    figure = path.with_suffix(".png")
    return ["", f"Relative L2 error against training wall time for each optimiser after the same "
                f"{config['iterations']:,} Adam steps, then {config['steps']:,} steps of it (one seed, {config['seed']}; "
                f"`sciml bench optimizers`, {', '.join(ran) or 'machine not recorded'}): {finals}.", "",
            f"![{problem}: error against training wall time for each optimiser]"
            f"({Path(os.path.relpath(figure, out)).as_posix()})"]


def optimizer_tables(described: list[tuple[dict[str, Any], registry.Case, str]], ref_number,
                     out: Path) -> list[str]:
    """One table per problem that a case runs with a second-order optimiser (a case setting
    ``optimizer``, or a problem default the run recorded): each case that names an optimiser or ran a
    second-order one, and the problem's ``sciml run`` default case, with the optimiser, relative L2,
    verdict, training wall time and steps run, and the published figures beside them (``ref_number``
    numbers a citation as in the list under the summary table); under it the problem's
    :func:`optimizer_benchmark` figure, if it has one (image paths relative to the report folder ``out``)."""
    def named(record: dict[str, Any], case: registry.Case) -> bool:
        ran = (record.get("settings") or {}).get("optimizer")
        return bool(case.settings.get("optimizer")) or ran not in (None, "adam-lbfgs")

    chosen = {case.problem for record, case, _ in described if named(record, case)}
    lines: list[str] = []
    for problem in sorted(chosen):
        rows = [(r, c, n) for r, c, n in described if c.problem == problem and (
            named(r, c) or (c.solver == "pinn" and not c.settings and not c.params and not c.inverse))]
        lines += ["", f"### Optimisers on `{problem}`", "",
                  "| case | optimiser after Adam | rel. L2 | result | wall time | steps run | published |",
                  "|---|---|---|---|---|---|---|"]
        for record, case, note in rows:
            published = "<br>".join(f"{_published_value(p)} — {p.short or p.what} [{ref_number(p.citation)}]"
                                    for p in case.published) or "—"
            lines.append("| " + " | ".join(_cell(c) for c in (
                f"[{case.name}](#{case.name.replace('.', '')})", phase_name(_second_phase((record.get("settings") or {}).get("optimizer"))),
                fmt_error(record["rel_l2"]),
                _verdict(case, record) + (" (stale)" if note else ""), fmt_time(record.get("wall_time_s")),
                _steps_text(record), published)) + " |")
        lines += optimizer_benchmark(problem, out)
    return lines


def study_tables(described: list[tuple[dict[str, Any], registry.Case, str]],
                 failures: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """One table per seed study (:class:`~sciml.validation.cases.Study`): each seed's error per arm
    (:meth:`~sciml.validation.cases.Study.error`: relative L2 unless the study names another metric; a run
    that raised and stored nothing, one of ``failures``, as failed) and the ratio of the candidate's to every
    other arm's, then the median and spread of the ratios and the verdict of the median against the study's
    target (as the runs recorded it)."""
    failures = failures or {}
    runs: dict[str, dict[tuple[str, Any], tuple[dict[str, Any], str]]] = {}
    for record, case, note in described:
        if case.study in registry.STUDIES:
            study = registry.STUDIES[case.study]
            runs.setdefault(case.study, {})[(case.arm, study.seed_of(case))] = (record, note)
    lines: list[str] = []
    for name, got in runs.items():
        st = registry.STUDIES[name]
        others = [a for a in st.arms if a != st.candidate]
        lines += ["", f"### Study `{name}`: `{st.candidate}` against {', '.join(f'`{a}`' for a in others)}, "
                      f"{len(st.seeds)} seeds", "", st.target_text, "",
                  f"| {st.over} | " + " | ".join(f"`{a}` {st.error_label}, time" for a in st.arms) + " | "
                  + " | ".join(f"ratio {st.candidate}/{a}" for a in others) + " |",
                  "|---" * (1 + len(st.arms) + len(others)) + "|"]
        ratios: dict[str, list[float]] = {a: [] for a in others}
        for seed in st.seeds:
            cells = []
            for arm in st.arms:
                run, failed = got.get((arm, seed)), failures.get(st.case_name(arm, seed))
                if run is None and failed:
                    cells.append(f"failed after {fmt_time(failed['after_s'])} ({failed['error'].split(':')[0]})")
                    continue
                cells.append("—" if run is None else f"{fmt_error(st.error(run[0]))}, "
                             f"{fmt_time(run[0].get('wall_time_s'))}" + (" (stale)" if run[1] else ""))
            mine = got.get((st.candidate, seed))
            for arm in others:
                theirs = got.get((arm, seed))
                if mine and theirs:
                    ratios[arm].append(st.ratio(mine[0], theirs[0]))
                    cells.append(f"{ratios[arm][-1]:.3g}")
                else:
                    cells.append("—")
            lines.append(f"| {seed} | " + " | ".join(_cell(c) for c in cells) + " |")
        summary = [f"median (min–max) over {len(r)} seeds: {statistics.median(r):.3g} ({min(r):.3g}–{max(r):.3g})"
                   if r else "no complete seed" for r in ratios.values()]
        lines.append("| **median** | " + " | ".join("" for _ in st.arms) + " | " + " | ".join(summary) + " |")
        base = ratios[st.baseline]
        targets = {json.dumps(run.get("study", {}).get("target_ratio")) for run, _ in got.values()}
        failed = sum((arm, seed) not in got and st.case_name(arm, seed) in failures
                     for arm in st.arms for seed in st.seeds)
        if len(base) < len(st.seeds):
            verdict = f"incomplete: {len(base)} of {len(st.seeds)} seeds have both arms"
            if failed:
                verdict += f"; {failed} of the missing runs failed (see Runs that failed)"
        elif st.target_ratio is None:
            verdict = "reported (no target)"
        else:
            verdict = "pass" if statistics.median(base) <= st.target_ratio else "FAIL"
            verdict = f"median ratio ≤ {st.target_ratio:g}: **{verdict}**"
            if targets != {json.dumps(st.target_ratio)}:
                verdict += " (against a target set or changed after some of these runs)"
        if any(note for _, note in got.values()):
            verdict += " (some runs are stale: see their sections)"
        lines += ["", f"Result: {verdict}."]
    return lines


def render_report(out: Path) -> str:
    records = load_results(out)
    lines = [
        "# Validation report",
        "",
        "> **Generated file — do not edit.** Written by `sciml validate` (`sciml.validation.runner`) from the "
        "stored results in `results/`; regenerate it with `sciml validate` (all cases) or "
        "`sciml validate CASE` (re-runs that case and keeps the other rows). Case definitions, budgets, "
        "targets and published figures live in `validation/cases.py`.",
        "",
    ]
    if not records:
        lines += ["No stored results yet: run `sciml validate`.", ""]
        return "\n".join(lines)

    refs: list[str] = []

    def ref_number(citation: str) -> int:
        if citation not in refs:
            refs.append(citation)
        return refs.index(citation) + 1

    code = code_fingerprint()
    described = [(record, *_describe(record, code)) for record in records]
    lines += [
        "| case | problem | solver | budget | measured rel. L2 | target | result | wall time | machine | date "
        "| commit | published |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for record, case, note in described:
        target = "—" if case.target is None else f"≤ {fmt_error(case.target)}"
        if case.bounds:
            target += "; " + ", ".join(f"{k} in [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in case.bounds.items())
        status = _verdict(case, record) + (f" ({note})" if note else "")
        published = "<br>".join(f"{_published_value(p)} — {p.short or p.what} [{ref_number(p.citation)}]"
                                for p in case.published) or "—"
        budget = case.budget or _steps_text(record)
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"[{case.name}](#{case.name.replace('.', '')})", case.problem, case.solver, budget,
            fmt_error(record["rel_l2"]), target, status, fmt_time(record.get("wall_time_s")),
            machine_text(record), record.get("date", "—").split(" ")[0],
            f"`{record['commit']}`" if record.get("commit") else "— (none recorded)", published)) + " |")
    lines += comparison_table(described)
    lines += optimizer_tables(described, ref_number, out)
    failures = load_failures(out)
    lines += study_tables(described, failures)
    lines += failure_lines(failures)
    lines += ["", "Published figures, numbered as in the table:", ""]
    lines += [f"{k}. {c}" for k, c in enumerate(refs, 1)]
    lines.append("")

    for record, case, note in described:
        name = case.name
        lines += [f"## {name}", ""]
        if note:
            lines += [f"**Note:** {note}.", ""]
        params = ", ".join(f"{k}={v!r}" for k, v in (record.get("params") or {}).items()) or "none"
        given = ", ".join(f"{k}={v!r}" for k, v in case.settings.items())
        if case.inverse:
            given = ", ".join(filter(None, [given, "inverse problem: " + ", ".join(
                f"{k}={v!r}" for k, v in case.inverse.items())]))
        lines += [
            f"- **What runs:** problem `{case.problem}` ({'parameters ' + ', '.join(f'{k}={v!r}' for k, v in case.params.items()) if case.params else 'default parameters'}) "
            f"with solver `{case.solver}` ({'settings ' + given if given else 'the settings `sciml run ' + case.problem + '` uses'}).",
            f"- **Budget:** {case.budget or '—'}; ran {_steps_text(record)} iterations "
            f"(seed {record.get('seed')}, device {record.get('device')}).",
            f"- **Reference:** {case.reference or '—'}. Run's reference: {record.get('reference', '—')}.",
            f"- **Measured:** relative L2 = **{fmt_error(record['rel_l2'])}**"
            + "".join(f"; {k}: {fmt_error(v)}" for k, v in (record.get("rel_l2_by_output") or {}).items()
                      if len(record.get("rel_l2_by_output") or {}) > 1)
            + (f", final loss {record['final_loss']:.3e}" if record.get("final_loss") is not None else "")
            + ", training wall time "
              f"{fmt_time(record.get('wall_time_s'))}.",
            f"- **Target:** {('rel. L2 ≤ ' + fmt_error(case.target)) if case.target is not None else 'none on the rel. L2'}"
            + (f"; bounds on {', '.join(case.bounds)} (table below)" if case.bounds else "")
            + f"{' — ' + case.target_text if case.target_text else ''}. Result: **{_verdict(case, record)}**.",
            f"- **Machine:** {machine_text(record)}; {record.get('machine', '')}; Python {record.get('python', '?')}, "
            f"torch {record.get('torch', '?')}, sciml {record.get('sciml_version', '?')} at commit "
            f"{record.get('commit') or '(none recorded)'}; run {record.get('date', '?')}"
            + _load_text(record) + ".",
            f"- **Problem parameters:** {params}.",
        ]
        if record.get("extra_metrics"):
            lines.append("- **Other measured figures:** " + ", ".join(
                f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in record["extra_metrics"].items()) + ".")
        lines += [
            "- **Resolved solver settings:** "
            + ", ".join(f"{k}={v!r}" for k, v in (record.get("settings") or {}).items()) + ".",
            f"- **Regenerate:** `{record.get('command', 'sciml validate ' + name)}`.",
            "",
        ]
        lines += _bounds_lines(case, record, ref_number)
        if case.published:
            lines += ["| published | method and setting | source |", "|---|---|---|"]
            lines += [f"| {_published_value(p)} | {_cell(p.what)} | [{ref_number(p.citation)}] {_cell(p.short)} |"
                      for p in case.published]
            lines.append("")
        figs = record.get("figures") or {}
        if figs.get("comparison"):
            lines += [f"![{name}: reference, prediction and error]({figs['comparison']})", ""]
        if figs.get("history"):
            lines += [f"![{name}: training loss vs step]({figs['history']})", ""]
        lines += [f"![{name}: {key}]({rel})\n" for key, rel in figs.items() if key not in ("comparison", "history")]
    return "\n".join(lines)


def write_report(out: Path) -> Path:
    path = out / REPORT
    path.write_text(render_report(out))
    return path


# -- several cases at once ---------------------------------------------------------------------------
def needs(case: registry.Case) -> list[str]:
    """The cases that must have run before ``case``: the one it starts from, those it takes parameters
    from and the one it is measured against."""
    return [name for name in (case.init_from, *case.param_from.values(), case.against) if name]


def plan(chosen: Sequence[str], out: Path) -> list[str]:
    """``chosen`` in an order where every case comes after those of its :func:`needs` that are among them,
    with each case a chosen one starts from or takes parameters from added when its run folder holds no
    result: :func:`run_case` would otherwise run it inside each process that needs it, twice at once when
    two do."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"validation cases depend on each other in a cycle: {' -> '.join((*path, name))}")
        case = registry.get(name)
        for need in needs(case):
            missing = need != case.against and not _has_run(need, out)
            if need in chosen or missing:
                visit(need, (*path, name))
        order.append(name)

    for name in chosen:
        visit(name, ())
    return order


def _log(name: str, out: Path) -> Path:
    """Where :func:`run_parallel` keeps the output of case ``name``'s process."""
    return out / "runs" / f"{name}.log"


def _launch(name: str, out: Path, threads: int, progress: bool) -> subprocess.Popen:
    """``sciml validate NAME`` in a process of its own, ``threads`` threads unless OMP_NUM_THREADS is set,
    its output in :func:`_log`. The process has a session of its own, so a terminal's Ctrl-C reaches only
    :func:`run_parallel`, which passes it on once (a second SIGINT would stop a case before it saves)."""
    log = _log(name, out)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads))}
    command = [sys.executable, "-m", "sciml", "validate", name, "--out", str(out), "--no-report",
               *([] if progress else ["--no-progress"])]
    with open(log, "w") as stream:
        return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _outcome(name: str, out: Path) -> str:
    """The last line a case's process printed about it (from :func:`_log`) without its own counter."""
    log = _log(name, out)
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    said = [line for line in lines if line.startswith("[") and f"] {name}: " in line]
    return said[-1].split("] ", 1)[1] if said else f"{name}: no status line (see {log})"


def run_parallel(chosen: Sequence[str], out: Path, jobs: int, progress: bool = True, launch=_launch,
                 poll_s: float = 1.0) -> int:
    """Run the cases of ``chosen`` (and what :func:`plan` adds), up to ``jobs`` at once, each as soon as
    the cases it :func:`needs` have run; a case whose need failed is not run. Returns 0 when every case ran
    and met its target, 1 otherwise, 130 when interrupted: Ctrl-C or a SIGINT sent to this process is passed
    once to every running case, which stops at its next step and keeps its stored result as it was."""
    order = plan(chosen, out)
    added = [name for name in order if name not in chosen]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    print(f"{len(order)} cases, up to {jobs} at once with {threads} thread(s) each; each one's output in "
          f"{out / 'runs'}/CASE.log" + (f"; added, as cases to run first: {', '.join(added)}" if added else ""),
          flush=True)
    waiting, running, ran, failed = list(order), {}, set(), set()
    code, count = 0, 0
    # A shell starts `cmd &` with SIGINT ignored, and Python then leaves it ignored: `kill -INT` of a
    # backgrounded `sciml validate --jobs` would do nothing while its cases ran on. Its cases' trainers take
    # SIGINT as a request to stop; so does this loop, for as long as it runs.
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while waiting or running:
            if code == 130 and waiting:  # a case was interrupted on its own (kill -INT): start no other
                print(f"not started, after the interruption: {', '.join(waiting)}", flush=True)
                waiting = []
            for name in list(waiting):
                inside = [need for need in needs(registry.get(name)) if need in order]
                if any(need in failed for need in inside):
                    waiting.remove(name)
                    failed.add(name)
                    count += 1
                    print(f"[{count}/{len(order)}] {name}: not run — "
                          f"{', '.join(n for n in inside if n in failed)} failed", flush=True)
                    code = max(code, 1)
                elif len(running) < jobs and all(need in ran for need in inside):
                    waiting.remove(name)
                    running[name] = launch(name, out, threads, progress)
                    case = registry.get(name)
                    print(f"{name}: start — {case.problem}/{case.solver}", flush=True)
            time.sleep(poll_s)
            for name, process in list(running.items()):
                status = process.poll()
                if status is None:
                    continue
                del running[name]
                count += 1
                # a case that missed its target (status 1) still ran: the cases it starts may run
                raised = status not in (0, 1) or failure_path(out, name).is_file()
                (failed if raised else ran).add(name)
                print(f"[{count}/{len(order)}] {_outcome(name, out)}", flush=True)
                code = max(code, 0 if status == 0 else 130 if status == 130 else 1)
    except KeyboardInterrupt:
        print(f"interrupted: waiting for {', '.join(running) or 'no case'} to stop; stored results are kept as "
              "they were", flush=True)
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for name, process in running.items():
            while process.poll() is None:
                try:
                    process.wait()
                except KeyboardInterrupt:
                    continue
            print(_outcome(name, out), flush=True)
        return 130
    finally:
        if handler is not None:
            signal.signal(signal.SIGINT, handler)
    return code


# -- command line ------------------------------------------------------------------------------------
def source_checkout() -> bool:
    """Whether this package runs from a git checkout of sciml (an editable install), where the
    report and its results live beside the cases, rather than from an installed copy."""
    root = HERE.parent
    return (root / ".git").exists() and (root / "pyproject.toml").is_file()


def default_out() -> Path:
    """Where ``sciml validate`` writes without ``--out``: this folder in a source checkout (the
    committed report), else ``validation/`` in the working directory — never into an installed
    package's folder."""
    return HERE if source_checkout() else Path.cwd() / "validation"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sciml validate",
        description="Run validation cases (problem × solver × budget against a reference) and regenerate "
                    "REPORT.md from all stored results.")
    p.add_argument("cases", nargs="*", metavar="CASE", help="case names (default: all registered cases)")
    p.add_argument("--out", default=None, help="output folder (default: the report's folder in a source checkout, "
                   "else ./validation)")
    p.add_argument("--list", action="store_true", help="list the registered cases and exit")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: regenerate REPORT.md from the stored results (and the history figures "
                        "from runs/ where those are still there)")
    p.add_argument("--no-progress", action="store_true", help="hide the training progress bar")
    p.add_argument("--stale", action="store_true",
                   help="of the named cases (default: all), run only those without a stored result or whose result "
                        "the report marks stale (their case or the code they run changed since)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run up to N cases at once, each in its own process with an equal share of the CPU "
                        "threads (OMP_NUM_THREADS, unless set) and its output in runs/CASE.log; a case waits for "
                        "the cases it starts from, takes parameters from or is measured against. Each result "
                        "records the machine's load beside its time (default: 1, one case after another)")
    p.add_argument("--no-report", action="store_true",
                   help="store the results and leave REPORT.md as it is (`--report-only` writes it later)")
    return p


def _list() -> None:
    for name in registry.names():
        c = registry.get(name)
        held = ([] if c.target is None else [f"rel. L2 <= {c.target:g}"]) + [
            f"{k} in [{lo:g}, {hi:g}]" for k, (lo, hi) in c.bounds.items()]
        target = "target " + ", ".join(held) if held else "no target"
        print(f"{name:24s} {c.problem}/{c.solver}; {c.budget or 'default budget'}; {target}")
    for name, st in registry.STUDIES.items():
        target = "reported" if st.target_ratio is None else f"median ratio {st.candidate}/{st.baseline} <= {st.target_ratio:g}"
        print(f"{name:24s} study: arms {', '.join(st.arms)} over {st.over} {list(st.seeds)}; {target}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named cases (all by default) and regenerate the report. Returns 0 when every case ran
    and met its target, 1 when one failed its target or raised, 130 when interrupted."""
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.list:
        _list()
        return 0
    chosen = [registry.get(name).name for name in registry.expand(args.cases or registry.names())]  # unknown names fail here
    chosen = list(dict.fromkeys(chosen))
    if args.jobs < 1:
        raise ValueError(f"--jobs must be a positive number of cases run at once, got {args.jobs}")
    out = Path(args.out) if args.out is not None else default_out()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / ".gitignore").exists():
        (out / ".gitignore").write_text(IGNORE)
    if args.stale and not args.report_only:
        left = outdated(chosen, out)
        print(f"{len(left)} of {len(chosen)} cases have no stored result or a stale one"
              + (f": {', '.join(left)}" if 0 < len(left) <= 20 else ""), flush=True)
        chosen = left
    code = 0
    if not args.report_only and args.jobs > 1:
        code = run_parallel(chosen, out, args.jobs, progress=not args.no_progress)
    elif not args.report_only:
        for k, name in enumerate(chosen, 1):
            case = registry.get(name)
            tag = f"[{k}/{len(chosen)}] {name}"
            print(f"{tag}: start — {case.problem}/{case.solver}, {case.budget or 'default budget'}", flush=True)
            t0 = time.perf_counter()
            try:
                record = run_case(case, out, progress=not args.no_progress)
            except KeyboardInterrupt:
                print(f"{tag}: interrupted; its stored result is unchanged", flush=True)
                code = 130
                break
            except Exception as err:  # one broken case must not stop the others
                print(f"{tag}: FAILED after {fmt_time(time.perf_counter() - t0)}: {type(err).__name__}: {err}",
                      flush=True)
                record_failure(case, out, err, time.perf_counter() - t0)
                code = 1
                continue
            if record.get("interrupted"):
                print(f"{tag}: interrupted after {fmt_time(record['wall_time_s'])}; its stored result is "
                      f"unchanged (the partial run is in {out / 'runs' / name})", flush=True)
                code = 130
                break
            status = _status(case, record)
            target = "" if case.target is None else f" (target ≤ {fmt_error(case.target)})"
            print(f"{tag}: done — rel. L2 = {fmt_error(record['rel_l2'])}{target}: {status}; "
                  f"trained in {fmt_time(record['wall_time_s'])}", flush=True)
            if status == "FAIL":
                code = max(code, 1)
    if args.report_only:
        redraw_history_figures(out)
        add_class_digests(out)
    if not args.no_report:
        path = write_report(out)
        print(f"report: {path} (results in {out / 'results'}, figures in {out / 'figures'})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
