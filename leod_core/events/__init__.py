"""Event records and I/O, the stacked-histogram representation, the synthetic camera, HDF5 store."""
