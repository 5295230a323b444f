"""Training: state, the jitted step and the loop, objectives, checkpoints, progress, reporting."""
