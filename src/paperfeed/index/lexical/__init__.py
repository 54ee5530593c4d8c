"""Search by words: the database's own word index (SQLite FTS5, PostgreSQL tsvector), kept in
each ingest transaction, and the faster tantivy index on disk that each machine keeps in step
through the change journal.
"""
