"""Models for pages."""
