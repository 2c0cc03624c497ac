"""The synthetic event camera: scene sampling, rendering, DVS pixel model; writes raw Prophesee files."""
