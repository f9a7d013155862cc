"""The team_coordination actor: the product's pack actor (models/networks/ctde.py) with a stack of
LSTM layers where it has one GRU, its MAPPO trainer, and its serving module.

    state (64)   -> encoder [64 -> U -> U] -> LSTM x L (U units) ------+
                                                                         +-> decision [U + 128 ->
    signals (32) -> encoder [32 -> 128] --------------------------------+     256 -> 128 -> 7]

The seed's size is L = 3 layers of U = 256 units. The recurrent state a monster carries between
decisions is h and c of every layer, flattened as [h_1 .. h_L, c_1 .. c_L] (each U wide): width
2 * L * U, the actor's `hidden_dim` (ServedActor's recurrent width). Each LSTM cell is written
out as one Linear over [x, h] and its four gates, the same function in training and in the
exported graph (no LSTM op for the exporter to translate, and dynamic quantization reaches the
Gemms), so ONNX parity is exact up to float rounding.

Training is the product's MAPPO (models/algorithms/mappo.py): `LSTMMAPPO` changes only which
actor `build_actor` makes; the rollouts, recurrent chunks, centralized critic and PPO update are
MAPPO's, which reads the actor only through `logits`, `use_gru` and `hidden_dim`.
"""

from __future__ import annotations

import torch
from torch import nn

from models.algorithms.mappo import MAPPO
from models.networks.ctde import DecentralizedActor


class GateLSTMCell(nn.Module):
    """One LSTM step (PyTorch's equations) as one Linear over [x, h] and its gates:

    i, f, g, o = split(W [x, h] + b)
    c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(c')
    """

    def __init__(self, input_size: int, units: int) -> None:
        super().__init__()
        self.units = units
        self.gates = nn.Linear(input_size + units, 4 * units)
        nn.init.orthogonal_(self.gates.weight)
        nn.init.zeros_(self.gates.bias)
        # Forget gate open at the start (Jozefowicz et al. 2015): memory survives early updates.
        with torch.no_grad():
            self.gates.bias[units : 2 * units].fill_(1.0)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = self.gates(torch.cat([x, h], dim=-1)).chunk(4, dim=-1)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_next), c_next


class LSTMActor(DecentralizedActor):
    """DecentralizedActor's encoders and decision network around L LSTM layers of U units.

    `hidden_dim` is the recurrent state's width, 2 * L * U (what MAPPO's rollouts, the serving
    signature and `Trained.hidden_dim` carry); `units` and `layers` are the LSTM's sizes.
    """

    def __init__(
        self,
        state_dim: int = 64,
        signal_dim: int = 32,
        action_dim: int = 7,
        units: int = 256,
        layers: int = 3,
        dropout: float = 0.0,
    ) -> None:
        # The encoders and the decision network are the GRU actor's at width U; no GRU.
        super().__init__(state_dim, signal_dim, action_dim, units, use_gru=False, dropout=dropout)
        self.units, self.layers = units, layers
        self.cells = nn.ModuleList(GateLSTMCell(units, units) for _ in range(layers))
        self.hidden_dim = 2 * layers * units
        self.use_gru = True  # MAPPO's flag for "carries a recurrent state"

    def recur(
        self, state_features: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The LSTM stack in the GRU's place (DecentralizedActor.logits does the rest): (B, U)
        features and the state (B, 2 L U) -> the last layer's h and the next state."""
        if hidden is None:
            hidden = self.initial_hidden(state_features.shape[0], state_features.device)
        parts = torch.split(hidden, self.units, dim=-1)  # h_1 .. h_L, c_1 .. c_L
        x = state_features
        hs, cs = [], []
        for k, cell in enumerate(self.cells):
            x, c = cell(x, parts[k], parts[self.layers + k])
            hs.append(x)
            cs.append(c)
        return x, torch.cat(hs + cs, dim=-1)


class LSTMMAPPO(MAPPO):
    """MAPPO training the LSTM actor; `lstm_layers` (class attribute, set by `with_layers`) is
    the stack's depth and ctde.actor.hidden_dim its units."""

    lstm_layers = 3

    @classmethod
    def with_layers(cls, layers: int) -> type[LSTMMAPPO]:
        """This algorithm with an LSTM of `layers` layers (the Trainer builds it by class)."""
        return type(f"LSTMMAPPO{layers}", (cls,), {"lstm_layers": layers})

    def build_actor(self) -> DecentralizedActor:
        c = self.config.ctde
        return LSTMActor(
            c.state_dim,
            c.signal_dim,
            c.action_dim,
            units=c.actor.hidden_dim,
            layers=self.lstm_layers,
            dropout=c.actor.dropout,
        )


class LSTMServing(nn.Module):
    """The zoo's serving signature: inputs (B, 64 + 32 + 2 L U) = the contract floats, the pack's
    signal floats, the LSTM state -> outputs (B, 7 + 2 L U) = the pack actions' probabilities,
    the next LSTM state (plpython/zoo_types.py, team_coordination)."""

    def __init__(self, actor: LSTMActor) -> None:
        super().__init__()
        self.actor = actor

    @property
    def hidden_dim(self) -> int:
        return self.actor.hidden_dim

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        a = self.actor
        state = inputs[:, : a.state_dim]
        signals = inputs[:, a.state_dim : a.state_dim + a.signal_dim]
        hidden = inputs[:, a.state_dim + a.signal_dim :]
        logits, next_hidden = a.logits(state, signals, hidden)
        assert next_hidden is not None
        return torch.cat([torch.softmax(logits, dim=-1), next_hidden], dim=-1)
