"""Ready problems: one module per family. Each class registers under its ``name`` through the
``sciml.problems`` entry-point group in pyproject.toml."""

from .burgers import Burgers
from .poisson import Poisson

__all__ = ["Burgers", "Poisson"]
