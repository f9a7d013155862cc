"""An RLlib module's policy as the product's served actor.

RLlib trains its own torch modules (an MLP encoder and heads per algorithm). What is deployed is
only the part that decides: observation -> action logits. `policy_network` takes exactly the
layers RLlib runs for that out of a trained module (copies, so training may go on), and
`RLlibActor` gives them the `ServedActor` interface, so the product's exporter writes and verifies
them (FP32 parity, FP16 and INT8 agreement) and the worker serves them like any other actor:
inputs `state` (B, 64) and `signals` (B, 32), output `action_probs` (B, A), no recurrent state.

The observation RLlib trained on is the contract's 64 floats, then the pack's 32 signal floats for
the pack actor (models/rllib/env.py); the combat policy reads the 64 floats alone, and its
`signals` input is accepted and ignored, as the worker feeds it zeros anyway. A value-based
module (DQN) serves its Q-values as logits, like QMIX's actor: the served action is the greedy one.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from models.networks.ctde import ServedActor, masked_logits


class DuelingQ(nn.Module):
    """RLlib DQN's dueling head on its encoder: Q = V + A - mean(A) (its `_qf_forward_helper`)."""

    def __init__(self, encoder: nn.Module, advantage: nn.Module, value: nn.Module) -> None:
        super().__init__()
        self.encoder, self.advantage, self.value = encoder, advantage, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        advantages = self.advantage(features)
        q: torch.Tensor = self.value(features) + advantages - advantages.mean(dim=-1, keepdim=True)
        return q


def policy_network(module: Any) -> nn.Module:
    """obs -> logits (Q-values for DQN): copies of the layers of an RLlib default torch module
    (PPO, APPO, IMPALA: actor encoder and pi head; SAC: pi encoder and pi head; DQN: encoder and
    the advantage head, with the value head when dueling)."""
    if hasattr(module, "af"):  # DQN
        encoder = module.encoder.net.mlp
        if getattr(module, "uses_dueling", False):
            net: nn.Module = DuelingQ(encoder, module.af.net.mlp, module.vf.net.mlp)
        else:
            net = nn.Sequential(encoder, module.af.net.mlp)
    elif hasattr(module, "pi_encoder"):  # SAC
        net = nn.Sequential(module.pi_encoder.net.mlp, module.pi.net.mlp)
    else:  # PPO, APPO, IMPALA: an actor-critic encoder, or one shared by both heads
        encoder = module.encoder
        body = encoder.actor_encoder if hasattr(encoder, "actor_encoder") else encoder.encoder
        net = nn.Sequential(body.net.mlp, module.pi.net.mlp)
    return copy.deepcopy(net).to("cpu").float().eval()


class RLlibActor(ServedActor):
    """`policy_network(module)` with the served actor's inputs and outputs (no GRU)."""

    def __init__(
        self,
        network: nn.Module,
        *,
        action_dim: int,
        use_signals: bool,
        state_dim: int = 64,
        signal_dim: int = 32,
    ) -> None:
        super().__init__()
        self.network = network
        self.state_dim, self.signal_dim, self.action_dim = state_dim, signal_dim, action_dim
        self.hidden_dim, self.use_gru = 0, False
        #: True: the network reads the state and then the signals (the pack actor).
        self.use_signals = use_signals

    @classmethod
    def from_module(cls, module: Any, *, action_dim: int, use_signals: bool) -> RLlibActor:
        return cls(policy_network(module), action_dim=action_dim, use_signals=use_signals)

    def logits(
        self,
        state: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = state
        if self.use_signals:
            if signals is None:
                signals = state.new_zeros(state.shape[0], self.signal_dim)
            x = torch.cat([state, signals], dim=-1)
        return masked_logits(self.network(x), action_mask), None

    def float_sensitive_weights(self) -> list[str]:
        """The first layer (raw inputs) and the heads' layers (the logits; DQN's value too) stay
        FP32 in the INT8 file, as for the product's actor."""
        linear = [(n, m) for n, m in self.named_modules() if isinstance(m, nn.Linear)]
        heads = [n for n, m in linear[1:] if m.out_features in (self.action_dim, 1)]
        return [f"actor.{n}.weight" for n in [linear[0][0], *heads]]
