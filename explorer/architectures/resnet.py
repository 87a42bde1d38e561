"""Paper-faithful resnet family (registered on import). Filled in by the catalog work."""
