"""What ``harness init`` copies into a user's project: the scenarios and the two workflows.

``scenarios`` and ``workflows`` are symbolic links to the repository's own ``scenarios/`` and
``.github/workflows/``: one source, so the files a user gets are the files this project runs (package data
in the wheel, where setuptools copies the files the links point to).
"""
