"""qbsim."""
