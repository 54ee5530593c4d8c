"""Machines joining a hub (#17): snapshots of the index files, each machine's positions, and
publishing and restoring them."""
