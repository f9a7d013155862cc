"""Offline training from recorded play: the loader of what the game server recorded
(`dataset.py`) and discrete CQL (`cql.py`, registered as "cql"); docs/offline.md."""
