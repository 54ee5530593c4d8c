"""The command line: one thin command per pipeline stage, each a few lines over a library call.

Errors from the library become one line on stderr and an exit code (see
``paperfeed.errors``); ``--json`` prints data for scripts.
"""

from paperfeed.cli import accounts, db, digest, ingest, papers, search  # noqa: F401 (each module registers its commands)
from paperfeed.cli.base import cli, main

__all__ = ["cli", "main"]
