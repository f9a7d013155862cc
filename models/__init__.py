"""Torch side of the product: CTDE networks, typed config, checkpoints, ONNX export, model registry,
pack-episode buffer, and the pack-combat simulator."""
