"""Event records and I/O, the stacked-histogram representation, HDF5 store."""
