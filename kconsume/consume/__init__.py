"""Headless consumption with scripted filters: the domain of ``kconsume consume``."""

from .filters import FilterSyntaxError, compile_where, load_script, make_prefilter
from .runner import ConsumeOptions, FilterFailedError, prepare, run_consume

__all__ = [
    "ConsumeOptions",
    "FilterFailedError",
    "FilterSyntaxError",
    "compile_where",
    "load_script",
    "make_prefilter",
    "prepare",
    "run_consume",
]
