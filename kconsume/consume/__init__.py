"""The ``consume`` command's runner: one stream, output, stop conditions, safe commits.

What it reads and writes (records, decoding, filters, output formats) lives in
:mod:`kconsume.records`, shared with ``tail`` and ``peek``.
"""

from ..records.filters import FilterSyntaxError, compile_where, load_script, make_prefilter
from .options import ConsumeOptions, prepare
from .runner import FilterFailedError, run_consume

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
