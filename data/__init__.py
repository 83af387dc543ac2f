"""Bundled reference solutions. Each ``NAME.npz`` has a ``NAME.md`` beside it giving its provenance,
the command that regenerates it and its sha256 checksum, which :func:`load` verifies."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def checksum(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def recorded_checksum(name: str) -> str:
    """The sha256 written in ``NAME.md``."""
    text = (HERE / f"{name}.md").read_text()
    match = re.search(r"\b([0-9a-f]{64})\b", text)
    if match is None:
        raise ValueError(f"{name}.md records no sha256 checksum")
    return match.group(1)


def load(name: str) -> dict[str, np.ndarray]:
    """Arrays of the bundled ``NAME.npz``, after checking its sha256 against ``NAME.md``."""
    path = HERE / f"{name}.npz"
    if not path.exists():
        known = sorted(p.stem for p in HERE.glob("*.npz"))
        raise FileNotFoundError(f"no bundled data set {name!r}; bundled: {known}")
    if checksum(path) != recorded_checksum(name):
        raise ValueError(f"{path} does not match the checksum in {name}.md: regenerate it with the "
                         "command given there")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
