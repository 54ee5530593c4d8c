"""Ingestion: one module per source turning external data into Paper objects
(knowing nothing of the database), and one :func:`ingest` that upserts them.

Pipeline, as a shell pipe::

    source.records(cursor) | validate | plan_batch (pure) | write batch + checkpoint
"""
