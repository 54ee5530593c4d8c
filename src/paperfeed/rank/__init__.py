"""Ranking: daily / weekly / monthly lists, trending, search, recommendations.

Every channel (page, JSON API, feed, CLI, email) calls these query functions,
so they all show the same list.
"""
