"""Dataset statistics: how realistic a dataset is (event rates, label rates, box sizes, empty boxes, tracks)."""
