"""Drills: fault -> detection -> recovery -> verification, end to end (docs/architecture.md "Layers")."""
