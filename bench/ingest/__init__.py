"""st-ingest benchmark."""
