"""The seed's own SQL and Cypher run unchanged in a plain psql session on the product's database."""

from __future__ import annotations

import psycopg

from tests.psql import run_psql

SEED_REGISTER_MODEL = """
INSERT INTO ml_models (
    archetype, model_type, model_name,
    onnx_fp16_path, version, training_status
) VALUES (
    'aggressive', 'pack_coordination', 'CTDE Actor v1.0',
    '/opt/ml_monster_ai/models/aggressive/pack_coordination.onnx',
    '1.0', 'deployed'
);
"""

SEED_PACK_STRUCTURE = """
SELECT * FROM cypher('monster_ai', $$
    MATCH (m:Monster {id: 1001})-[r:LEADS]->(follower)
    RETURN follower.id, r.strength
$$) AS (id agtype, strength agtype);
"""

SEED_REGISTRY_CHECK = """
SELECT archetype, model_type, version, is_deployed,
       metrics->>'val_loss' as val_loss
FROM ml_models
ORDER BY archetype, model_type;
"""

FIXTURE_GRAPH = """
SELECT * FROM cypher('monster_ai', $$
    CREATE (l:Monster {id: 1001, mob_id: 1002, archetype: 'aggressive', leadership_score: 0.9}),
           (a:Monster {id: 1002, mob_id: 1002, archetype: 'tank', leadership_score: 0.5}),
           (b:Monster {id: 1003, mob_id: 1002, archetype: 'mage', leadership_score: 0.4}),
           (c:Monster {id: 2001, mob_id: 1031, archetype: 'ranged', leadership_score: 0.8}),
           (l)-[:LEADS {strength: 0.9}]->(a), (a)-[:FOLLOWS]->(l),
           (l)-[:LEADS {strength: 0.7}]->(b), (b)-[:FOLLOWS]->(l),
           (c)-[:LEADS {strength: 0.3}]->(a)
$$) AS (v agtype);
"""


def test_seed_model_registration_runs_unchanged(db_url: str) -> None:
    run_psql(db_url, SEED_REGISTER_MODEL)
    rows = run_psql(db_url, SEED_REGISTRY_CHECK).splitlines()
    assert rows == ["aggressive|pack_coordination|1.0|f|"]


def test_seed_pack_structure_cypher_returns_the_followers(db_url: str, worker_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(FIXTURE_GRAPH.encode())
    for url in (db_url, worker_url):  # the operator and the worker's role both may diagnose
        rows = sorted(run_psql(url, SEED_PACK_STRUCTURE).splitlines())
        assert rows == ["1002|0.9", "1003|0.7"]
