"""Training loop, RNN state keeping, checkpoint/resume, LR schedule, DDP."""
