"""Per-run report directories: moved to ``harness/run_dirs.py`` so the CLI (which may not import the pytest
plugin) keeps its runs under the same ``reports/runs/`` scheme; re-exported here for the plugin."""

from harness.run_dirs import (  # noqa: F401 (re-exported for the plugin modules)
    DEFAULT_KEEP,
    LATEST,
    MANIFEST,
    RUN_FILE,
    RUNS,
    check_writable,
    create_run,
    point_latest,
    prune,
    publish,
    resolve_latest,
    run_dirs,
    write_run_info,
)
