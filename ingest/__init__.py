"""renkei ingest package."""
