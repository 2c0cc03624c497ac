"""Datasets and loaders over (HDF5 representations, label table): random, streaming, mixed."""
