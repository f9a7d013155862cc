"""The seed's import path of the CTDE networks (`from models.ctde_architectures import
CentralizedCritic, DecentralizedActor, ...`): they live in models/networks/ctde.py."""

from models.networks.ctde import CentralizedCritic, CommNet, DecentralizedActor, QMIXMixer

__all__ = ["CentralizedCritic", "CommNet", "DecentralizedActor", "QMIXMixer"]
