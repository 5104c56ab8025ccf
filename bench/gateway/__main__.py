"""`python -m bench.gateway`: see bench/gateway/run.py."""

from bench.gateway.run import main

main()
