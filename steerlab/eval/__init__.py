"""Offline evaluation of packs on held-out data (concept rate, fluency, detection, bias, scope)."""
