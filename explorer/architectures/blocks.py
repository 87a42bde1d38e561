"""Paper-faithful blocks family (registered on import). Filled in by the catalog work."""
