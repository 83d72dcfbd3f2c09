"""Offline pack building: text sources, activation collection, directions and probes (operator-run)."""
