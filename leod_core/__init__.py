"""leod core library: events, labels, data, model, training, pseudo-labelling, evaluation.

Pure Python + torch + numpy/h5py/pyarrow. Never imports Prefect, DVC or MLflow.
"""

__version__ = "0.1.0"
