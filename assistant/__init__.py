"""renkei assistant package."""
