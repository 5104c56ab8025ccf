"""`python -m bench.mapper`: see bench/mapper/run.py."""

from bench.mapper.run import main

main()
