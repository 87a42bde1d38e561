"""Weights: what exists (records, shipped, torchvision's and timm's metadata), safe reading of
files,
downloads into torch's hub cache, loading one typed result (LoadedModel), the bounded model
cache."""
