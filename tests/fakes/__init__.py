"""Fake HTTP peers on 127.0.0.1 that answer like the real platform APIs."""
