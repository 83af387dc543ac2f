"""Validation: registered cases (problem × solver × budget × reference × published figures), the
runner behind ``sciml validate``, and the generated ``REPORT.md`` with its figures."""

from .cases import CASES, Case, Published, get, names, register, unregister

__all__ = ["CASES", "Case", "Published", "get", "names", "register", "unregister"]
