"""The README's "Second-order optimisers" section quotes measured numbers: each must be the one the
stored result it links to holds (a validation result or the optimizer benchmark's JSON), so a rerun
that changes a result makes this test fail until the README says what was measured."""

import json
import re
from pathlib import Path

from sciml.validation import cases
from sciml.validation.runner import _steps_text, fmt_error, fmt_time

ROOT = Path(__file__).resolve().parent.parent


def section() -> list[str]:
    """The section's paragraphs and list items, each joined into one line."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Second-order optimisers\n")
    end = text.index("\n## ", start + 1)
    items: list[str] = []
    for line in text[start:end].splitlines():
        if items and line.startswith("  ") and items[-1]:
            items[-1] += " " + line.strip()
        else:
            items.append(line.strip())
    return items


def test_quoted_validation_results_are_the_stored_ones():
    checked = 0
    for line in section():
        for name in re.findall(r"\]\(validation/results/([a-z0-9_.-]+)\.json\)", line):
            record = json.loads((ROOT / "validation" / "results" / f"{name}.json").read_text())
            study = cases.STUDIES.get(record["case"].get("study", ""))
            error = study.error(record) if study else record["rel_l2"]  # a study's figure of merit, if it names one
            for quoted in (fmt_error(error), _steps_text(record), fmt_time(record["wall_time_s"])):
                assert quoted in line, f"README quotes {name} without its stored {quoted!r}: {line}"
            checked += 1
    assert checked >= 3


def test_quoted_benchmark_numbers_are_the_stored_ones():
    saved = json.loads((ROOT / "benchmarks" / "results" / "optimizers-burgers.json").read_text())
    lines = [line for line in section() if "](benchmarks/results/optimizers-burgers.json)" in line]
    assert lines
    for name, error in saved["final_rel_l2"].items():
        assert any(f"{error:.2e}" in line and f"{saved['train_s'][name]:.0f} s" in line for line in lines), name
