"""The mapper's throughput against a bare nats-py loop on the same messages."""
