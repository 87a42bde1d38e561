"""Paper-faithful vgg family (registered on import). Filled in by the catalog work."""
