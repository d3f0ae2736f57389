"""Classify stage: one stance per (document, proposal), with the sentences that show it."""
