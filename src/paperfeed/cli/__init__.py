"""The command line: one thin command per pipeline stage, each a few lines over a library call.

Errors from the library become one line on stderr and an exit code (see
``paperfeed.errors``); ``--json`` prints data for scripts. A command's module is imported
only when it runs (``base.COMMANDS``), so ``--help`` and ``--version`` answer at once.
"""

from paperfeed.cli.base import cli, main

__all__ = ["cli", "main"]
