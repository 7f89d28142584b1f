"""renkei knowledge package."""
