"""Torch side of the product, in rooms: `envs/` (the generic multi-agent interface, the pack-combat
simulator, PettingZoo), `networks/` (the seed's CTDE networks), `algorithms/` (MAPPO), `buffers/`
(recorded pack episodes), `training/` (the trainer, checkpoints, the training-job entry and its
settings), `export/` (ONNX export and the model registry), and `config.py` (the typed YAML config).
The seed's API stays importable where the seed names it: `models.ctde_trainer.CTDETrainer`,
`models.pack_episode_buffer.PackEpisodeBuffer`, `models.ctde_architectures`."""
