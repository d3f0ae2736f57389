"""The core the commands run on: provenance, inputs, corpus, parts, artifacts, cross-validation."""
