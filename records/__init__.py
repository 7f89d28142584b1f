"""renkei records package."""
