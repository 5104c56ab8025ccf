"""`python -m bench.audit`: see bench/audit/run.py."""

from bench.audit.run import main

main()
