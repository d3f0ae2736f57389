"""Embed stage: sentence and proposal texts -> L2-normalised float32 vectors (see base.Encoder)."""
