"""Repository root conftest: the harness plugin itself is registered by the ``pytest11`` entry point.

Nothing is defined here so that running from a checkout and from an installed package behave the same.
"""

collect_ignore = ["reports", "benchmarks"]
