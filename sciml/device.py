"""Device selection: CUDA when present, else CPU; overridable by name."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` picks ``cuda`` if available, else ``cpu``; otherwise the named device.

    Raises ``ValueError`` for an unknown device name or a CUDA device this machine does not have.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for but CUDA is not available on this machine; "
                             "use 'cpu' or 'auto'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return device


def set_default_device(device: torch.device) -> None:
    """Make ``device`` torch's default. For the CPU this removes the default-device mode instead of
    setting one: ``torch.set_default_device("cpu")`` installs a TorchFunctionMode that every torch call
    then goes through in Python, a cost a CPU process without it never pays."""
    torch.set_default_device(None if device.type == "cpu" else device)


def describe(device: torch.device) -> str:
    """A human-readable name of the device, e.g. for reports."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform
    threads = torch.get_num_threads()
    return f"cpu ({platform.processor() or platform.machine()}, {threads} thread{'s' if threads != 1 else ''})"
