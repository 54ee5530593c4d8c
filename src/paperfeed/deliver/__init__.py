"""Delivery: web pages, JSON API, feeds, CLI helpers and email."""
