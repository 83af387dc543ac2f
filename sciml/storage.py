"""Result and checkpoint files: written atomically, read without running code.

A sciml file (``result.pt``, ``checkpoint.pt``) is a ``torch.save`` of one dict that holds tensors
(state dicts, optimiser state, collocation points) and plain values only — numbers, strings, None,
lists, tuples and dicts of them — with two keys of its own: ``format`` (:data:`FORMAT_VERSION`, the
layout's version) and ``kind`` ("result" or "checkpoint"). :func:`read` loads it with
``torch.load(..., weights_only=True)``, whose unpickler builds only those types: a file that holds
anything else (a pickled object, whose unpickling can call any function, e.g. ``os.system``) is
refused before any of it runs. Problems and solvers are never stored as objects: a result records
their registered names, parameters and settings, and :func:`sciml.load` rebuilds them from these.

Every way reading can fail — a missing key, a truncated or overwritten file, a foreign pickle, a file
of a newer format — is a :class:`SavedFileError`, one sentence naming the file. :func:`write` never
leaves a half-written file under the target's name: it writes a temporary file beside it, flushes it
to the disk and renames it over the target (an atomic replacement on POSIX and Windows), so a
process killed while writing leaves the previous file intact.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

FORMAT_VERSION = 1
"""Version of the file layout written here; files of a higher version are refused (version 0: the
results sciml wrote before this module, without ``format`` and ``kind``, read the same way)."""

KINDS = ("result", "checkpoint")


class SavedFileError(ValueError):
    """A result or checkpoint file that cannot be loaded (damaged, foreign, unsafe or too new)."""


def plain(value: Any, where: str = "value") -> Any:
    """``value`` with every part converted to what :func:`read` can load: tensors, None, bool, int,
    float, str, and lists, tuples and dicts of them. NumPy scalars become Python numbers, NumPy arrays
    lists, paths and devices strings; anything else is a ``ValueError`` naming ``where`` it sits."""
    if isinstance(value, np.generic):  # before the Python types: np.float64 is a float subclass
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, torch.device)):
        return str(value)
    if isinstance(value, dict):
        return {plain(k, f"a key of {where}"): plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise ValueError(f"{where} is a {type(value).__name__}, which a sciml file cannot hold: only tensors, "
                     "numbers, strings, None and lists, tuples and dicts of them (so that loading runs no code)")


@contextmanager
def atomic(path: str | Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside ``path`` for writing; on success flush it to the disk and rename
    it to ``path``, on failure remove it. ``path`` is either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write(path: str | Path, content: dict[str, Any], kind: str) -> None:
    """Write ``content`` (tensors and plain values, see :func:`plain`) as a sciml file of ``kind``,
    atomically (see :func:`atomic`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    data = {"format": FORMAT_VERSION, "kind": kind, **plain(content, f"the {kind}'s content")}
    with atomic(path) as f:
        torch.save(data, f)


def first_line(err: BaseException) -> str:
    """The first line of an error's message, shortened to 120 characters: the reason inside a one-sentence error."""
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 120 else line[:117] + "..."


def read(path: str | Path, kind: str, *, required: tuple[str, ...] = (), map_location=None,
         trusted: bool = False) -> dict[str, Any]:
    """Load the sciml file of ``kind`` at ``path`` without running code from it; it must hold the
    keys ``required``. ``map_location`` is :func:`torch.load`'s. ``trusted=True`` unpickles whatever
    the file holds (``weights_only=False``), running any code in it: only for a file whose writer you
    trust. Every failure is a :class:`SavedFileError` naming the file."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickles it did not write; the error says it all
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as err:
        unsafe = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        if unsafe is None:  # bytes that are no pickle: the unpickler's own reason, not torch's preamble
            raise SavedFileError(f"{path} cannot be read as a sciml {kind}: it is damaged (truncated or overwritten) "
                                 f"or not a file sciml wrote ({first_line(err.__context__ or err)})") from None
        advice = ("if you trust whoever wrote it (e.g. a result of a sciml older than file format 1), convert "
                  "it once with sciml.load(FOLDER, trusted=True).save(FOLDER)") if kind == "result" else (
            "a checkpoint of a sciml older than file format 1 cannot be resumed: start the run afresh, "
            "or from its result with --init")
        raise SavedFileError(f"{path} holds Python objects ({unsafe.group(1)}) besides tensors and plain "
                             f"values, and loading them could run code, so it was not loaded; {advice}") from None
    except Exception as err:  # truncated zip, garbage bytes, an empty file, ...
        raise SavedFileError(f"{path} cannot be read as a sciml {kind}: it is damaged (truncated or "
                             f"overwritten) or not a file sciml wrote ({first_line(err)})") from None
    if not isinstance(saved, dict):
        raise SavedFileError(f"{path} is not a sciml {kind}: it holds a {type(saved).__name__}, not a dict")
    version = saved.get("format", 0)
    if not isinstance(version, int) or version < 0:
        raise SavedFileError(f"{path} is not a sciml {kind}: its format version is {version!r}")
    if version > FORMAT_VERSION:
        raise SavedFileError(f"{path} was written in sciml file format {version}, newer than this sciml reads "
                             f"(up to {FORMAT_VERSION}): upgrade sciml to load it")
    found = saved.get("kind", kind)
    if found != kind:
        raise SavedFileError(f"{path} is a sciml {found}, not a {kind}")
    missing = [key for key in required if key not in saved]
    if missing:
        raise SavedFileError(f"{path} is not a sciml {kind}: it lacks {', '.join(map(repr, missing))}")
    return saved
