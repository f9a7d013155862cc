"""Pack formation by proximity: which monsters of one map hunt together, and who leads.

Runs inside PostgreSQL (`ml.form_packs`, which writes the result as LEADS / FOLLOWS / TEAMMATE_OF
edges) and on the host (tests, the simulator). Standard library only. Pure functions: the caller
reads monsters and the current packs, and writes the edges that `pack_edges` returns.

The rules (docs/coordination.md explains when they run):

* Distance is rAthena's cell distance, max(|dx|, |dy|) (its default square areas): "within 10 cells"
  means a 21 x 21 box.
* A pack has 2 to 5 members (config), all alive, within `radius` of the leader.
* The leader is the member with the highest leadership_score; ties go to the lower monster id, so
  every pack has exactly one leader and formation is deterministic.
* Packs are sticky. An existing pack keeps its members while they stay within reach of its leader;
  when the leader dies or leaves, the next best member leads ("a leader's death promotes the
  next"); a pack left with fewer than `min_size` members dissolves. Free monsters then join a pack
  with room whose leader outranks them, and the rest form new packs around the best-ranked free
  monster. Stickiness keeps packs (and the signals sent to them) from flapping as monsters move.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FormationConfig:
    """The `pack_formation` section of config/ctde_config.yaml."""

    radius: int = 10
    """Cells (rAthena cell distance) between the leader and each member."""
    min_size: int = 2
    """A pack smaller than this dissolves."""
    max_size: int = 5
    """No pack grows beyond this."""

    def __post_init__(self) -> None:
        if self.radius < 0:
            raise ValueError(f"radius must be >= 0, got {self.radius}")
        if not 2 <= self.min_size <= self.max_size:
            raise ValueError(
                f"need 2 <= min_size <= max_size, got {self.min_size} and {self.max_size}"
            )


@dataclass(frozen=True)
class Monster:
    """What formation needs to know of one monster on the map."""

    id: int
    x: int
    y: int
    leadership_score: float
    alive: bool = True


@dataclass(frozen=True)
class Pack:
    """A leader and its followers (sorted ids)."""

    leader_id: int
    follower_ids: tuple[int, ...]

    @property
    def member_ids(self) -> tuple[int, ...]:
        return tuple(sorted((self.leader_id, *self.follower_ids)))


@dataclass(frozen=True)
class PackEdges:
    """The graph edges that represent a set of packs, keyed by (from monster id, to monster id)."""

    leads: dict[tuple[int, int], float] = field(default_factory=dict)
    """leader -> follower, with the strength of the bond."""
    follows: set[tuple[int, int]] = field(default_factory=set)
    """follower -> leader."""
    teammates: set[tuple[int, int]] = field(default_factory=set)
    """follower -> fellow follower, both directions (so no query needs an undirected match)."""


def cell_distance(a: Monster, b: Monster) -> int:
    return max(abs(a.x - b.x), abs(a.y - b.y))


def rank(monster: Monster) -> tuple[float, int]:
    """Sort key: best leader first (highest score, then lowest id)."""
    return (-monster.leadership_score, monster.id)


def bond_strength(leader: Monster, follower: Monster) -> float:
    """LEADS.strength: how clearly the leader outranks the follower (0 = equals, id broke the tie).

    Scores, not positions, so the edge does not change (and is not rewritten) as monsters move.
    """
    return round(max(0.0, leader.leadership_score - follower.leadership_score), 4)


class _Grid:
    """Monsters bucketed by radius-sized squares: neighbours are in the 3 x 3 buckets around."""

    def __init__(self, monsters: Iterable[Monster], radius: int) -> None:
        self.size = max(1, radius)
        self.buckets: dict[tuple[int, int], list[Monster]] = defaultdict(list)
        for monster in monsters:
            self.buckets[self._key(monster)].append(monster)

    def _key(self, monster: Monster) -> tuple[int, int]:
        return (monster.x // self.size, monster.y // self.size)

    def near(self, center: Monster, radius: int) -> list[Monster]:
        cx, cy = self._key(center)
        reach = radius // self.size + 1
        found = []
        for bx in range(cx - reach, cx + reach + 1):
            for by in range(cy - reach, cy + reach + 1):
                for other in self.buckets.get((bx, by), ()):
                    if other.id != center.id and cell_distance(center, other) <= radius:
                        found.append(other)
        return found


def form_packs(
    monsters: Sequence[Monster],
    current_packs: Iterable[Iterable[int]],
    config: FormationConfig,
) -> list[Pack]:
    """The packs of one map, given its monsters and the packs it has now (sets of monster ids).

    Ids in `current_packs` that are not in `monsters` (despawned, moved to another map) are ignored.
    """
    alive = {m.id: m for m in monsters if m.alive}
    taken: set[int] = set()
    kept = _keep_existing(alive, current_packs, config, taken)
    free = sorted((m for i, m in alive.items() if i not in taken), key=rank)
    joined = _join_open_packs(alive, kept, free, config, taken)
    return sorted(joined + _form_new(free, config, taken), key=lambda p: p.leader_id)


def _keep_existing(
    alive: Mapping[int, Monster],
    current_packs: Iterable[Iterable[int]],
    config: FormationConfig,
    taken: set[int],
) -> list[Pack]:
    """Existing packs that are still valid, under their best-ranked surviving member."""
    packs = []
    for ids in current_packs:
        members = sorted((alive[i] for i in set(ids) if i in alive and i not in taken), key=rank)
        if len(members) < config.min_size:
            continue
        leader = members[0]
        near = [m for m in members[1:] if cell_distance(leader, m) <= config.radius]
        near.sort(key=lambda m: (cell_distance(leader, m), m.id))
        followers = near[: config.max_size - 1]
        if len(followers) + 1 >= config.min_size:
            packs.append(Pack(leader.id, tuple(sorted(m.id for m in followers))))
            taken.update((leader.id, *(m.id for m in followers)))
    return packs


def _join_open_packs(
    alive: Mapping[int, Monster],
    packs: list[Pack],
    free: list[Monster],
    config: FormationConfig,
    taken: set[int],
) -> list[Pack]:
    """Free monsters join the nearest pack with room whose leader outranks them."""
    rosters = {p.leader_id: list(p.follower_ids) for p in packs}
    for monster in free:
        best: tuple[int, int] | None = None
        for leader_id, followers in rosters.items():
            leader = alive[leader_id]
            if len(followers) + 1 >= config.max_size or rank(leader) > rank(monster):
                continue
            distance = cell_distance(leader, monster)
            if distance <= config.radius and (best is None or (distance, leader_id) < best):
                best = (distance, leader_id)
        if best is not None:
            rosters[best[1]].append(monster.id)
            taken.add(monster.id)
    return [Pack(leader, tuple(sorted(ids))) for leader, ids in rosters.items()]


def _form_new(free: list[Monster], config: FormationConfig, taken: set[int]) -> list[Pack]:
    """The rest form new packs around the best-ranked free monster (`free` is in rank order).

    A monster ranked above the seed was a seed before it and was taken then (into its own pack, or
    alone), so every candidate ranks below the seed: the seed leads.
    """
    grid = _Grid(free, config.radius)
    packs = []
    for seed in free:
        if seed.id in taken:
            continue
        candidates = [m for m in grid.near(seed, config.radius) if m.id not in taken]
        candidates.sort(key=lambda m: (cell_distance(seed, m), m.id))
        followers = candidates[: config.max_size - 1]
        if len(followers) + 1 >= config.min_size:
            packs.append(Pack(seed.id, tuple(sorted(m.id for m in followers))))
            taken.update((seed.id, *(m.id for m in followers)))
        else:
            taken.add(seed.id)  # alone: nobody free in reach, so nobody later can reach it
    return packs


def pack_edges(packs: Iterable[Pack], monsters: Mapping[int, Monster]) -> PackEdges:
    """LEADS (with strength) and FOLLOWS leader <-> follower; TEAMMATE_OF among followers."""
    edges = PackEdges()
    for pack in packs:
        leader = monsters[pack.leader_id]
        for follower_id in pack.follower_ids:
            edges.leads[(pack.leader_id, follower_id)] = bond_strength(
                leader, monsters[follower_id]
            )
            edges.follows.add((follower_id, pack.leader_id))
            for other in pack.follower_ids:
                if other != follower_id:
                    edges.teammates.add((follower_id, other))
    return edges


def current_packs_from_edges(
    leads: Iterable[tuple[int, int]], teammates: Iterable[tuple[int, int]]
) -> list[set[int]]:
    """Packs as they stand in the graph: each leader with its followers, plus groups linked only by
    TEAMMATE_OF (connected components), which formation then gives a leader."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in (*leads, *teammates):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, set[int]] = defaultdict(set)
    for node in parent:
        groups[root(node)].add(node)
    return [groups[key] for key in sorted(groups)]
