"""CTDE networks: shapes, masking, QMIX monotonicity (small widths: sizes are not the point)."""

from __future__ import annotations

import pytest
import torch

from models.networks.ctde import (
    CentralizedCritic,
    CommNet,
    DecentralizedActor,
    QMIXMixer,
    categorical_log_prob_entropy,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def pack_mask(sizes: list[int], n_agents: int = 5) -> torch.Tensor:
    return torch.arange(n_agents)[None, :] < torch.tensor(sizes)[:, None]


@pytest.mark.parametrize("use_attention", [True, False])
def test_masked_agents_do_not_change_the_critic_value(use_attention: bool) -> None:
    critic = CentralizedCritic(hidden_dims=[32, 32, 16], use_attention=use_attention).eval()
    states = torch.randn(4, 5, 64)
    mask = pack_mask([2, 3, 4, 5])
    value = critic(states, mask)
    assert value.shape == (4, 1)

    garbage = states.clone()
    garbage[~mask] = torch.randn(int((~mask).sum()), 64) * 1e4
    garbage[0, 4, 0] = float("nan")  # even NaN padding cannot leak in
    assert torch.equal(critic(garbage, mask), value)

    # ...and a real agent does change it.
    moved = states.clone()
    moved[0, 0] += 1.0
    assert not torch.allclose(critic(moved, mask)[0], value[0])


def test_critic_is_invariant_to_the_order_of_agents() -> None:
    critic = CentralizedCritic(hidden_dims=[32, 32, 16]).eval()
    states = torch.randn(2, 5, 64)
    perm = torch.tensor([3, 1, 4, 0, 2])
    torch.testing.assert_close(critic(states[:, perm]), critic(states))


def test_critic_rejects_a_pack_without_agents() -> None:
    critic = CentralizedCritic(hidden_dims=[32, 32, 16]).eval()
    with pytest.raises(ValueError, match="at least one present agent"):
        critic(torch.randn(1, 5, 64), torch.zeros(1, 5, dtype=torch.bool))


def test_actor_outputs_and_no_signals_means_zeros() -> None:
    actor = DecentralizedActor(hidden_dim=32).eval()
    state, hidden = torch.randn(3, 64), torch.randn(3, 32)
    probs, next_hidden = actor(state, None, hidden)
    assert probs.shape == (3, 7)
    assert next_hidden is not None
    assert next_hidden.shape == (3, 32)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    zeros_probs, _ = actor(state, torch.zeros(3, 32), hidden)
    assert torch.equal(probs, zeros_probs)


def test_actor_without_gru_returns_no_hidden() -> None:
    actor = DecentralizedActor(hidden_dim=32, use_gru=False).eval()
    probs, hidden = actor(torch.randn(2, 64), torch.rand(2, 32))
    assert probs.shape == (2, 7)
    assert hidden is None
    assert actor.recurrent_dim == 0


def test_masked_actions_get_zero_probability() -> None:
    actor = DecentralizedActor(hidden_dim=32).eval()
    state = torch.randn(64, 64)
    mask = torch.rand(64, 7) < 0.5
    mask[torch.arange(64), torch.randint(0, 7, (64,))] = True  # at least one allowed per row
    probs, _ = actor(state, action_mask=mask)
    assert torch.all(probs[~mask] == 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(64))

    for deterministic in (True, False):
        action, log_prob, entropy, _ = actor.get_action(
            state, action_mask=mask, deterministic=deterministic
        )
        assert mask[torch.arange(64), action].all()
        assert torch.isfinite(log_prob).all()
        assert torch.isfinite(entropy).all()
        assert (entropy >= 0).all()


def test_get_action_log_prob_matches_probs_and_evaluate_actions() -> None:
    actor = DecentralizedActor(hidden_dim=32).eval()
    state, signals = torch.randn(8, 64), torch.rand(8, 32)
    probs, _ = actor(state, signals)
    action, log_prob, entropy, _ = actor.get_action(state, signals, deterministic=True)
    assert torch.equal(action, probs.argmax(-1))
    torch.testing.assert_close(log_prob, probs.log().gather(-1, action[:, None])[:, 0])
    torch.testing.assert_close(entropy, -(probs * probs.log()).sum(-1))
    again, entropy2, _ = actor.evaluate_actions(state, action, signals)
    torch.testing.assert_close(again, log_prob)
    torch.testing.assert_close(entropy2, entropy)


def test_actor_rejects_a_row_without_allowed_actions() -> None:
    actor = DecentralizedActor(hidden_dim=32).eval()
    with pytest.raises(ValueError, match="at least one allowed action"):
        actor(torch.randn(1, 64), action_mask=torch.zeros(1, 7, dtype=torch.bool))


def test_seed_sizes() -> None:
    actor = DecentralizedActor()
    assert actor.decision[0].in_features == 384
    assert [m.out_features for m in actor.decision if isinstance(m, torch.nn.Linear)] == [
        256,
        128,
        7,
    ]


def test_commnet_ignores_absent_agents() -> None:
    net = CommNet(input_dim=64, hidden_dim=32, output_dim=7).eval()
    x = torch.randn(3, 5, 64)
    mask = pack_mask([2, 3, 5])
    out = net(x, mask)
    assert out.shape == (3, 5, 7)
    assert torch.all(out[~mask] == 0)
    changed = x.clone()
    changed[~mask] = 1e3
    assert torch.equal(net(changed, mask), out)
    # Messages do flow between present agents.
    changed = x.clone()
    changed[2, 4] += 1.0
    assert not torch.allclose(net(changed, mask)[2, 0], out[2, 0])


def test_qmix_is_monotonic_in_every_agent_q() -> None:
    mixer = QMIXMixer(n_agents=5, state_dim=5 * 64, mixing_embed_dim=16, hypernet_embed_dim=32)
    qs = (torch.randn(256, 5) * 5).requires_grad_(True)
    states = torch.randn(256, 5 * 64)
    q_tot = mixer(qs, states)
    assert q_tot.shape == (256, 1)
    (grad,) = torch.autograd.grad(q_tot.sum(), qs)
    assert (grad >= 0).all()
    # Finite increases too: raising any one agent's Q never lowers Q_tot.
    with torch.no_grad():
        for agent in range(5):
            raised = qs.detach().clone()
            raised[:, agent] += torch.rand(256) * 3
            assert (mixer(raised, states) >= q_tot - 1e-6).all()


def test_qmix_masked_agents_contribute_nothing() -> None:
    mixer = QMIXMixer(n_agents=5, state_dim=64, mixing_embed_dim=8, hypernet_embed_dim=16)
    qs, states = torch.randn(4, 5), torch.randn(4, 64)
    mask = pack_mask([2, 3, 4, 5])
    other = qs.clone()
    other[~mask] = 100.0
    assert torch.equal(mixer(qs, states, mask), mixer(other, states, mask))


def test_masked_log_prob_and_entropy_have_finite_gradients() -> None:
    # PPO's update differentiates the entropy of masked logits: 0 * -inf computed in a branch
    # that torch.where drops still sends NaN back through the gradient (it did, and the actor's
    # weights became NaN within two updates once the update used this function).
    logits = torch.randn(4, 7, requires_grad=True)
    allowed = torch.ones(4, 7, dtype=torch.bool)
    allowed[:, 3:] = False
    masked = logits.masked_fill(~allowed, float("-inf"))
    log_prob, entropy = categorical_log_prob_entropy(masked, torch.zeros(4, dtype=torch.long))
    (log_prob.sum() + entropy.sum()).backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()
    reference = torch.distributions.Categorical(logits=masked)
    torch.testing.assert_close(entropy, reference.entropy())  # type: ignore[no-untyped-call]
