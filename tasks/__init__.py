"""Prefect tasks: thin wrappers over leod_core; MLflow logging lives here."""
