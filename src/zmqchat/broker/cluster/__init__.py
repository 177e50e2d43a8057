"""Broker nodes that share rooms, sessions and presence through Redis (issue 17)."""
