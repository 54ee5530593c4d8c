"""Storage: the schema, migrations and every SQL statement about stored rows.

SQLAlchemy Core only; dialect-specific code lives in :mod:`paperfeed.store.engine`.
"""
