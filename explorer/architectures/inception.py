"""Paper-faithful inception family (registered on import). Filled in by the catalog work."""
