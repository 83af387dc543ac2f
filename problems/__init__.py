"""Ready problems: one module per family. Each class registers under its ``name`` through the
``sciml.problems`` entry-point group in pyproject.toml."""

from .allen_cahn import AllenCahn
from .burgers import Burgers
from .convection import Convection, ConvectionDiffusion

__all__ = ["AllenCahn", "Burgers", "Convection", "ConvectionDiffusion"]
