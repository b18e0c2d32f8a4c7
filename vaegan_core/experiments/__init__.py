"""Studies built from the core pieces (e.g. model collapse across generations)."""
