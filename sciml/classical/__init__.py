"""Classical (non-learned) reference solutions, e.g. the Cole-Hopf solution of viscous Burgers."""

__all__ = ["burgers_cole_hopf", "burgers_cole_hopf_dx", "reference_grid"]


def __getattr__(name):
    # Lazy re-export (PEP 562) so `python -m sciml.classical.cole_hopf` does not
    # import the module twice (runpy warning).
    if name in __all__:
        from . import cole_hopf

        return getattr(cole_hopf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
