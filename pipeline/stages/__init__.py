"""The stages: ingest -> segment -> embed -> link + classify. Each reads and returns records."""
