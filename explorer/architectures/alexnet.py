"""Paper-faithful alexnet family (registered on import). Filled in by the catalog work."""
