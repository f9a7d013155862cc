"""Training: the loop every algorithm shares (`loop`), the one checkpoint format (`checkpoints`),
the training-job entry (`job`), its typed settings (`settings`) and the seed's `ctde_trainer`."""
