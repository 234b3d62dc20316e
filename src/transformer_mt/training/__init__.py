"""Training: teacher forcing, loss, schedule, checkpoints."""
