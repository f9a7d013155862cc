"""Training: the CTDE trainer (`ctde_trainer`), checkpoints, the training-job entry (`job`) and
its typed settings (`settings`)."""
