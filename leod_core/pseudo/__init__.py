"""Pseudo-labelling: TTA, merging, linear tracker, filtering, inpainting, round label tables."""
