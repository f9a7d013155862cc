"""CTDE networks (seed 000, "Architecture" and "API Reference"): centralized critic, decentralized
actor, CommNet and the QMIX mixer.

Shapes: B batch, N agent slots of a pack (padded to n_agents, `agent_mask` says which are real),
S state_dim (64), G signal_dim (32), A action_dim (7), H widths.

Only the actor is deployed (ONNX, see models/export/onnx.py); the critic, CommNet and the mixer are
training-time networks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    """CleanRL's init: orthogonal weights with gain `std`, constant bias."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def _all_agents(global_state: torch.Tensor) -> torch.Tensor:
    return torch.ones(global_state.shape[:2], dtype=torch.bool, device=global_state.device)


def _check_agent_mask(agent_mask: torch.Tensor) -> None:
    if agent_mask.dtype != torch.bool:
        raise TypeError(f"agent_mask must be torch.bool, got {agent_mask.dtype}")
    # A data-dependent check: eager only (an exported graph cannot branch on values).
    if not torch.compiler.is_exporting() and not bool(agent_mask.any(dim=-1).all()):
        raise ValueError("agent_mask: every row needs at least one present agent")


def categorical_log_prob_entropy(
    logits: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a|s) of `actions` (B,) and the policy entropy (B,), from (B, A) logits that may hold
    -inf for masked actions (those contribute 0 to the entropy: lim p->0 of p log p).

    Safe to differentiate: a masked action's log-probability is replaced by 0 *before* it meets
    its probability (0), so no 0 * -inf is ever computed, not even in a branch torch.where drops
    (its NaN would still flow back through the gradient)."""
    log_probs = F.log_softmax(logits, dim=-1)
    log_prob = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    finite = torch.where(log_probs.isneginf(), 0.0, log_probs)
    return log_prob, -(log_probs.exp() * finite).sum(dim=-1)


class CentralizedCritic(nn.Module):
    """Team value V(s_global) from every agent's state (training only, never deployed).

    Per-agent encoder -> multi-head self-attention over the present agents (residual + LayerNorm)
    -> masked mean and max pooling -> MLP with LayerNorm + ReLU + Dropout -> one value.
    Absent agents (mask False) are zeroed before encoding, excluded as attention keys and from the
    pooling, so whatever their slots hold cannot change the value.
    """

    def __init__(
        self,
        state_dim: int = 64,
        n_agents: int = 5,
        hidden_dims: list[int] | None = None,
        use_attention: bool = True,
        dropout: float = 0.2,
        n_heads: int = 4,
        per_agent: bool = False,
    ) -> None:
        super().__init__()
        hidden_dims = [512, 512, 256] if hidden_dims is None else list(hidden_dims)
        if len(hidden_dims) < 2:
            raise ValueError(f"hidden_dims needs at least two widths, got {hidden_dims}")
        self.state_dim = state_dim
        self.n_agents = n_agents
        self.hidden_dims = hidden_dims
        self.use_attention = use_attention
        self.n_heads = n_heads
        self.per_agent = per_agent
        embed = hidden_dims[0]

        self.encoder = nn.Sequential(layer_init(nn.Linear(state_dim, embed)), nn.ReLU())
        self.attention: nn.MultiheadAttention | None = None
        self.attention_norm: nn.LayerNorm | None = None
        if use_attention:
            self.attention = nn.MultiheadAttention(
                embed, n_heads, dropout=dropout, batch_first=True
            )
            self.attention_norm = nn.LayerNorm(embed)

        # Pooled input is [mean over agents, max over agents]: 2 * embed; per agent, the agent's own
        # attended embedding comes first (MAPPO's agent-specific global state): 3 * embed.
        layers: list[nn.Module] = []
        width = (3 if per_agent else 2) * embed
        for out in hidden_dims[1:]:
            layers += [layer_init(nn.Linear(width, out)), nn.LayerNorm(out), nn.ReLU()]
            layers.append(nn.Dropout(dropout))
            width = out
        self.value_mlp = nn.Sequential(*layers)
        self.value_head = layer_init(nn.Linear(width, 1), std=1.0)

    def forward(
        self, global_state: torch.Tensor, agent_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, N, S) states, (B, N) bool mask -> (B, 1) team value, or (B, N) per-agent values
        V_i(s) when built with per_agent (absent slots' values are meaningless: mask them)."""
        if agent_mask is None:
            agent_mask = _all_agents(global_state)
        _check_agent_mask(agent_mask)
        present = agent_mask.unsqueeze(-1)  # (B, N, 1)
        # Zero absent slots first: even NaN padding cannot leak through a 0 attention weight.
        x = self.encoder(torch.where(present, global_state, 0.0))  # (B, N, H0)

        if self.attention is not None and self.attention_norm is not None:
            attended, _ = self.attention(x, x, x, key_padding_mask=~agent_mask, need_weights=False)
            x = self.attention_norm(x + attended)

        # Masked pooling over agents: mean over present ones, max over present ones.
        count = present.sum(dim=1).clamp(min=1)  # (B, 1)
        mean = torch.where(present, x, 0.0).sum(dim=1) / count
        maximum = torch.where(present, x, float("-inf")).amax(dim=1)
        pooled = torch.cat([mean, maximum], dim=-1)  # (B, 2 * H0)
        if self.per_agent:
            # Each agent's value reads the whole pack (pooled) from its own seat (x_i).
            own = torch.cat([x, pooled.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=-1)
            return self.value_head(self.value_mlp(own)).squeeze(-1)  # type: ignore[no-any-return]
        return self.value_head(self.value_mlp(pooled))  # type: ignore[no-any-return]


class ServedActor(nn.Module):
    """What is deployed: one monster's policy from its own state (B, S), its pack's signals (B, G)
    and, when recurrent, its memory (B, H) -> action probabilities (B, A) and the next memory.

    The exporter (models/export/onnx.py), the worker's I/O contract (docs/onnx_contract.md) and
    the evaluation policies read only this interface, so any network that implements `logits`
    is exported, verified and served the same way: the product's own `DecentralizedActor`, or the
    policy of an RLlib module (models/rllib/actor.py).
    """

    state_dim: int
    signal_dim: int
    action_dim: int
    hidden_dim: int
    use_gru: bool

    @property
    def recurrent_dim(self) -> int:
        """Width of the recurrent state carried between decisions (0 without a GRU)."""
        return self.hidden_dim if self.use_gru else 0

    def initial_hidden(self, batch_size: int, device: torch.device | None = None) -> torch.Tensor:
        """The recurrent state of a monster that has not decided yet: zeros (B, H)."""
        return torch.zeros(batch_size, self.hidden_dim, device=device)

    def logits(
        self,
        state: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, A) action logits, -inf where action_mask is False, and the next hidden (B, H)."""
        raise NotImplementedError

    def float_sensitive_weights(self) -> list[str]:
        """Weights (names as the exporter sees them, under "actor.") that the INT8 file keeps in
        FP32: the layers that read raw inputs and the layer that produces the logits."""
        raise NotImplementedError

    def forward(
        self,
        state: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, S), (B, G) or None, (B, H) or None, (B, A) bool or None -> (probs (B, A), hidden)."""
        logits, next_hidden = self.logits(state, signals, hidden, action_mask)
        return F.softmax(logits, dim=-1), next_hidden

    def get_action(
        self,
        state: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(action (B,), log_prob (B,), entropy (B,), hidden): argmax when deterministic."""
        logits, next_hidden = self.logits(state, signals, hidden, action_mask)
        if deterministic:
            action = logits.argmax(dim=-1)
        else:
            action = torch.multinomial(F.softmax(logits, dim=-1), 1).squeeze(-1)
        log_prob, entropy = categorical_log_prob_entropy(logits, action)
        return action, log_prob, entropy, next_hidden


def masked_logits(logits: torch.Tensor, action_mask: torch.Tensor | None) -> torch.Tensor:
    """`logits` with -inf where action_mask is False (exp(-inf) = 0: exactly zero probability)."""
    if action_mask is None:
        return logits
    if action_mask.dtype != torch.bool:
        raise TypeError(f"action_mask must be torch.bool, got {action_mask.dtype}")
    if not torch.compiler.is_exporting() and not bool(action_mask.any(dim=-1).all()):
        raise ValueError("action_mask: every row needs at least one allowed action")
    return logits.masked_fill(~action_mask, float("-inf"))


class DecentralizedActor(ServedActor):
    """One monster's policy from its own state and its signal vector (deployed as ONNX).

    state (S)   -> encoder [S -> H -> H] -> GRU (H -> H, optional) -+
                                                                   +-> decision [H + 128 -> 256
    signals (G) -> encoder [G -> 128] ----------------------------+       -> 128 -> A] -> softmax

    With the seed's sizes H = 256, so the decision network is 384 -> 256 -> 128 -> 7. The GRU keeps
    memory of the monster's own situation; signals go straight to the decision, so a signal acts
    on the very tick it arrives. Without signals the signal input is zeros (solo operation).
    """

    SIGNAL_FEATURES = 128

    def __init__(
        self,
        state_dim: int = 64,
        signal_dim: int = 32,
        action_dim: int = 7,
        hidden_dim: int = 256,
        use_gru: bool = True,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.signal_dim = signal_dim
        self.action_dim = action_dim
        self.hidden_dim = hidden_dim
        self.use_gru = use_gru

        self.state_encoder = nn.Sequential(
            layer_init(nn.Linear(state_dim, hidden_dim)),
            nn.ReLU(),
            layer_init(nn.Linear(hidden_dim, hidden_dim)),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.signal_encoder = nn.Sequential(
            layer_init(nn.Linear(signal_dim, self.SIGNAL_FEATURES)), nn.ReLU()
        )
        self.gru: nn.GRU | None = None
        if use_gru:
            self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
            for name, param in self.gru.named_parameters():
                if name.startswith("weight"):
                    nn.init.orthogonal_(param)
                else:
                    nn.init.constant_(param, 0.0)
        self.decision = nn.Sequential(
            layer_init(nn.Linear(hidden_dim + self.SIGNAL_FEATURES, 256)),
            nn.ReLU(),
            nn.Dropout(dropout),
            layer_init(nn.Linear(256, 128)),
            nn.ReLU(),
            # Small last layer: near-uniform initial policy (CleanRL's 0.01 for the policy head).
            layer_init(nn.Linear(128, action_dim), std=0.01),
        )

    def logits(
        self,
        state: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, A) action logits, -inf where action_mask is False, and the next hidden (B, H)."""
        if signals is None:
            signals = state.new_zeros(state.shape[0], self.signal_dim)
        state_features = self.state_encoder(state)  # (B, H)
        signal_features = self.signal_encoder(signals)  # (B, 128)
        state_features, next_hidden = self.recur(state_features, hidden)
        logits = self.decision(torch.cat([state_features, signal_features], dim=-1))  # (B, A)
        return masked_logits(logits, action_mask), next_hidden

    def recur(
        self, state_features: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The memory's step between the state encoder and the decision network: (B, H) state
        features and the hidden (B, H) or None (a first decision) -> the features the decision
        reads and the next hidden (None without a GRU: the features pass unchanged)."""
        if self.gru is None:
            return state_features, None
        if hidden is None:
            hidden = self.initial_hidden(state_features.shape[0], state_features.device)
        # One GRU step: sequence length 1, hidden (1, B, H) as nn.GRU wants it.
        out, h = self.gru(state_features.unsqueeze(1), hidden.unsqueeze(0))
        return out.squeeze(1), h.squeeze(0)

    def float_sensitive_weights(self) -> list[str]:
        """The two layers that read raw state and signal values, and the decision MLP that
        produces the logits (25% of the actor's parameters at the seed's sizes). Quantizing them
        cost the most action agreement for no measurable speed; the bulk that is quantized is the
        state encoder's second layer and the GRU."""
        decision = [
            f"actor.decision.{i}.weight"
            for i, layer in enumerate(self.decision)
            if isinstance(layer, nn.Linear)
        ]
        return ["actor.state_encoder.0.weight", "actor.signal_encoder.0.weight", *decision]

    def evaluate_actions(
        self,
        state: torch.Tensor,
        actions: torch.Tensor,
        signals: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        action_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(log_prob (B,), entropy (B,), hidden) of given actions: the PPO ratio's numerator."""
        logits, next_hidden = self.logits(state, signals, hidden, action_mask)
        log_prob, entropy = categorical_log_prob_entropy(logits, actions)
        return log_prob, entropy, next_hidden


class CommNet(nn.Module):
    """CommNet (Sukhbaatar et al. 2016): agents exchange mean-pooled messages (training only).

    h0_i = ReLU(W_in x_i); for k rounds: c_i = mean of h_j over the other present agents j != i,
    h_i <- ReLU(H_k h_i + C_k c_i); out_i = W_out h_i. Absent agents send nothing and get zeros.
    """

    def __init__(
        self,
        input_dim: int = 64,
        hidden_dim: int = 128,
        output_dim: int = 7,
        n_rounds: int = 3,
    ) -> None:
        super().__init__()
        self.n_rounds = n_rounds
        self.encoder = layer_init(nn.Linear(input_dim, hidden_dim))
        self.self_weights = nn.ModuleList(
            layer_init(nn.Linear(hidden_dim, hidden_dim)) for _ in range(n_rounds)
        )
        self.comm_weights = nn.ModuleList(
            layer_init(nn.Linear(hidden_dim, hidden_dim)) for _ in range(n_rounds)
        )
        self.head = layer_init(nn.Linear(hidden_dim, output_dim), std=0.01)

    def forward(self, x: torch.Tensor, agent_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, input_dim), (B, N) bool -> (B, N, output_dim); absent agents' rows are zeros."""
        if agent_mask is None:
            agent_mask = _all_agents(x)
        _check_agent_mask(agent_mask)
        present = agent_mask.unsqueeze(-1)  # (B, N, 1)
        h = torch.where(present, F.relu(self.encoder(torch.where(present, x, 0.0))), 0.0)
        others = (present.sum(dim=1, keepdim=True) - present.float()).clamp(min=1)  # (B, N, 1)
        for self_w, comm_w in zip(self.self_weights, self.comm_weights, strict=True):
            # Message to agent i: mean of the other present agents' hidden states.
            message = (h.sum(dim=1, keepdim=True) - h) / others
            h = torch.where(present, F.relu(self_w(h) + comm_w(message)), 0.0)
        return torch.where(present, self.head(h), 0.0)


class QMIXMixer(nn.Module):
    """QMIX (Rashid et al. 2018): Q_tot = f(Q_1..Q_N, s), monotonic in every agent's Q.

    Hypernetworks read the global state s and produce the mixing weights; taking their absolute
    value makes every weight >= 0, and ELU is increasing, so dQ_tot/dQ_i >= 0 for all i.
    """

    def __init__(
        self,
        n_agents: int = 5,
        state_dim: int = 320,
        mixing_embed_dim: int = 32,
        hypernet_embed_dim: int = 64,
    ) -> None:
        super().__init__()
        self.n_agents = n_agents
        self.state_dim = state_dim
        self.embed_dim = mixing_embed_dim
        self.hyper_w1 = nn.Sequential(
            layer_init(nn.Linear(state_dim, hypernet_embed_dim)),
            nn.ReLU(),
            layer_init(nn.Linear(hypernet_embed_dim, n_agents * mixing_embed_dim), std=1.0),
        )
        self.hyper_b1 = layer_init(nn.Linear(state_dim, mixing_embed_dim), std=1.0)
        self.hyper_w2 = nn.Sequential(
            layer_init(nn.Linear(state_dim, hypernet_embed_dim)),
            nn.ReLU(),
            layer_init(nn.Linear(hypernet_embed_dim, mixing_embed_dim), std=1.0),
        )
        # State-dependent bias of the output (V(s) in the paper): free in sign.
        self.hyper_b2 = nn.Sequential(
            layer_init(nn.Linear(state_dim, mixing_embed_dim)),
            nn.ReLU(),
            layer_init(nn.Linear(mixing_embed_dim, 1), std=1.0),
        )

    def forward(
        self,
        agent_qs: torch.Tensor,
        states: torch.Tensor,
        agent_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, N) chosen-action Q values, (B, state_dim) global state -> (B, 1) Q_tot.

        Absent agents (mask False) contribute nothing: their Q is dropped from the mix.
        """
        batch = agent_qs.shape[0]
        if agent_mask is not None:
            agent_qs = torch.where(agent_mask, agent_qs, 0.0)
        # Monotonicity: |.| on the hypernetwork outputs makes every mixing weight non-negative.
        w1 = torch.abs(self.hyper_w1(states)).view(batch, self.n_agents, self.embed_dim)
        b1 = self.hyper_b1(states).view(batch, 1, self.embed_dim)
        hidden = F.elu(torch.bmm(agent_qs.unsqueeze(1), w1) + b1)  # (B, 1, E)
        w2 = torch.abs(self.hyper_w2(states)).view(batch, self.embed_dim, 1)
        b2: torch.Tensor = self.hyper_b2(states).view(batch, 1, 1)
        return (torch.bmm(hidden, w2) + b2).view(batch, 1)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters."""
    return int(sum(p.numel() for p in module.parameters()))


class LocalCritic(nn.Module):
    """V_i(o_i): one agent's value from its own observation alone (IPPO's decentralized critic).

    Shared by all agents like the actor; each slot is valued independently of the others, so
    nothing of another agent's state reaches it: (B, N, S) -> (B, N).
    """

    def __init__(self, state_dim: int = 64, hidden_dims: list[int] | None = None) -> None:
        super().__init__()
        hidden_dims = [256, 256] if hidden_dims is None else list(hidden_dims)
        layers: list[nn.Module] = []
        width = state_dim
        for out in hidden_dims:
            layers += [layer_init(nn.Linear(width, out)), nn.LayerNorm(out), nn.ReLU()]
            width = out
        self.body = nn.Sequential(*layers)
        self.value_head = layer_init(nn.Linear(width, 1), std=1.0)
        self.state_dim = state_dim
        self.hidden_dims = hidden_dims

    def forward(
        self, local_obs: torch.Tensor, agent_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, N, S) observations -> (B, N) values (the mask is not needed: slots are apart)."""
        return self.value_head(self.body(local_obs)).squeeze(-1)  # type: ignore[no-any-return]
