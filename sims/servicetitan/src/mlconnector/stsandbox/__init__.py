"""stsandbox."""
