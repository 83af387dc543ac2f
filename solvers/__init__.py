"""Solvers: one module per method. Each class registers under its ``name`` through the
``sciml.solvers`` entry-point group in pyproject.toml."""

from .causal import CausalPINN
from .controller import Controller
from .hypersolver import HyperSolver
from .lagrangian import LagrangianPINN
from .multidomain import MultiDomainPINN
from .neural_ode import NeuralODE
from .pinn import PINN

__all__ = ["CausalPINN", "Controller", "HyperSolver", "LagrangianPINN", "MultiDomainPINN", "NeuralODE", "PINN"]
