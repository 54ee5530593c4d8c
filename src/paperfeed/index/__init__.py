"""Indexes over the stored papers: lexical and semantic."""
