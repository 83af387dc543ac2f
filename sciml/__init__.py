"""sciml — physics-informed scientific machine learning on PyTorch.

The four nouns: a *problem* (physics), a *solver* (how to learn it), its *result* (trained model,
history, timings), and *validation* against a trusted reference. From Python::

    import sciml
    result = sciml.run("burgers", nu=0.005, iterations=2000)
    u = result.predict(points)          # points (N, 2) -> (N, 1)
    result.save("runs/burgers")
    again = sciml.load("runs/burgers")
"""

from __future__ import annotations

from .api import run
from .fields import Fields, Plan
from .inverse import Observations, read_observations, sample_observations
from .problem import Parameter, Problem, Reference
from .solver import Result, Solver, load

__version__ = "0.1.0"
__all__ = ["run", "load", "Fields", "Plan", "Parameter", "Problem", "Reference", "Result", "Solver",
           "Observations", "read_observations", "sample_observations"]
