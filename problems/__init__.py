"""Ready problems: one module per family. Each class registers under its ``name`` through the
``sciml.problems`` entry-point group in pyproject.toml."""

from .allen_cahn import AllenCahn
from .burgers import Burgers
from .convection import Convection, ConvectionDiffusion
from .lorenz import Lorenz
from .navier_stokes import Cylinder, Kovasznay, LidDrivenCavity, TaylorGreen
from .pendulum import Pendulum, PendulumControl
from .poisson import Poisson

__all__ = ["AllenCahn", "Burgers", "Convection", "ConvectionDiffusion", "Cylinder", "Kovasznay", "LidDrivenCavity",
           "Lorenz", "Pendulum", "PendulumControl", "Poisson", "TaylorGreen"]
