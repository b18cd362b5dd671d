"""Event payload models, one module per owning service or outside system."""
