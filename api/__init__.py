"""renkei api package."""
