"""Streaming inference of the recurrent detector over whole sequences, shared by evaluation,
pseudo-labelling and prediction."""
