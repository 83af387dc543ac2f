"""Solvers: one module per method. Each class registers under its ``name`` through the
``sciml.solvers`` entry-point group in pyproject.toml."""

from .causal import CausalPINN
from .lagrangian import LagrangianPINN
from .pinn import PINN

__all__ = ["CausalPINN", "LagrangianPINN", "PINN"]
