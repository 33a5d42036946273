"""Runbook harness: codified rollback, promotion and PITR runbooks for AWS serverless platforms."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("runbook-harness")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
