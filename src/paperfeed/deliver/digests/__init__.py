"""E-mail digests: subscriptions with double opt-in, what goes into each digest, and sending one
edition exactly once.
"""
