"""Prefect flows (one per DVC stage), the self-training flow, the CLI."""
