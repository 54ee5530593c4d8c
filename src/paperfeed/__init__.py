"""paperfeed: a self-hostable daily-papers hub.

The product is one flow, and the package layout follows it::

    ingest -> store -> index -> rank -> deliver

Imports point down only (deliver -> rank -> index -> store -> models); an
import-linter contract in the test suite keeps it so.
"""

__version__ = "0.1.0"
