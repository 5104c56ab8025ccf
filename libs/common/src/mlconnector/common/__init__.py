"""Shared contracts and plumbing for every ml-connector service."""
