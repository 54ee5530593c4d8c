"""Settings: one typed object, read from ``PAPERFEED_*`` environment variables and
an optional TOML file, built by ``create_app()`` and the CLI, never at import.

The settings come in named groups, one module each (database, hub, server, ingest, search,
ranking, security, submissions, mail, digests and schedule); :class:`Settings` joins them
into one flat object, so code reads ``settings.database_url`` whatever its group.
"""

from paperfeed.config.settings import DEFAULT_DATABASE_URL, GROUPS, Settings, load_settings

__all__ = ["DEFAULT_DATABASE_URL", "GROUPS", "Settings", "load_settings"]
