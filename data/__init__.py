"""Bundled reference solutions. Each ``NAME.npz`` (or ``NAME.vtu``, ``NAME.csv``) has a ``NAME.md``
beside it giving its provenance, the command that regenerates it (or the table it is copied from)
and its sha256 checksum, which :func:`load` and :func:`path` verify."""

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


def path(name: str, suffix: str = "npz") -> Path:
    """The bundled file ``NAME.SUFFIX``, after checking its sha256 against ``NAME.md``."""
    found = HERE / f"{name}.{suffix}"
    if not found.exists():
        known = sorted(p.name for p in HERE.iterdir() if p.suffix in (".npz", ".vtu", ".csv"))
        raise FileNotFoundError(f"no bundled data set {name!r} ({suffix}); bundled: {known}")
    if checksum(found) != recorded_checksum(name):
        raise ValueError(f"{found} does not match the checksum in {name}.md: regenerate it with the "
                         "command given there")
    return found


def load(name: str) -> dict[str, np.ndarray]:
    """Arrays of the bundled ``NAME.npz``, after checking its sha256 against ``NAME.md``."""
    with np.load(path(name, "npz")) as data:
        return {k: data[k] for k in data.files}
