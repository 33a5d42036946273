"""pytest plugins of the runbook harness (glue only; logic lives in harness/)."""
