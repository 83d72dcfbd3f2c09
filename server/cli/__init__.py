"""The ``steer`` command line (console script ``server.cli:main``; ``python -m server.cli``)."""

from server.cli.main import main

__all__ = ["main"]
