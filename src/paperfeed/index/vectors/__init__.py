"""Search by meaning over stored vectors: the paper_embeddings table, the in-memory index with
its HNSW graph file, and pgvector inside PostgreSQL.
"""
