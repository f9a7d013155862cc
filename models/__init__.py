"""Torch side of the product, in rooms: `envs/` (the generic multi-agent interface and its one
evaluator, the pack-combat simulator, the contract-speaking simulator, PettingZoo), `networks/`
(the seed's CTDE networks and IPPO's local critic), `algorithms/` (MAPPO, IPPO, QMIX, VDN, MADDPG
and the `ALGORITHMS` registry), `buffers/` (recorded pack episodes, episode replay), `training/`
(the loop every algorithm shares, checkpoints, the training-job entry and its settings, the seed's
CTDETrainer), `export/` (ONNX export and the model registry), and `config.py` (the typed YAML
config). The seed's API stays importable where the seed names it: `models.ctde_trainer.CTDETrainer`,
`models.pack_episode_buffer.PackEpisodeBuffer`, `models.ctde_architectures`."""
