"""``leod predict``: a trained detector streamed over recordings (raw event files in any supported format,
or imported dataset sequences) -> per recording Prophesee ``*_bbox.npy`` + Parquet detections, optional
online track ids, an H.264 video and a GIF clip. Start at :func:`leod_core.predict.run.predict`."""

from leod_core.predict.run import PredictionResult, load_predictor, predict, predict_recording

__all__ = ["PredictionResult", "load_predictor", "predict", "predict_recording"]
