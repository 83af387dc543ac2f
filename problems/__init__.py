"""Ready problems: one module per family. Each class registers under its ``name`` through the
``sciml.problems`` entry-point group in pyproject.toml; ``from sciml.problems import Burgers``
imports only the module that defines it."""

from sciml.registry import exports

__getattr__, __all__ = exports("sciml.problems")
