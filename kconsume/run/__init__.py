"""``kconsume run APP.py``: load a user's App from a file and run it, watched."""

from .headless import run_headless
from .loader import AppLoadError, load_app

__all__ = ["AppLoadError", "load_app", "run_headless"]
