"""Prophesee/COCO detection evaluation and pseudo-label quality."""
