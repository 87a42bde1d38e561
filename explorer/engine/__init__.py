"""The tracing engine: meta-device building, the one recorded forward pass, MAC counting at the aten
level, shape fast paths, and what cannot be traced. Knows modules and builders as callables,
never the catalog's names."""
