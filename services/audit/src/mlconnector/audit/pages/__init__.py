"""The dashboard's server-rendered pages (no script, no external assets; every value escaped)."""
