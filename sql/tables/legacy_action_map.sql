-- drop: DROP TABLE IF EXISTS ml.legacy_action_map;
-- How a pack action of the actor answers the legacy gateway, whose action ids are 0-9 (IDLE, ATTACK,
-- MOVE_CLOSER, MOVE_AWAY, MOVE_RANDOM, SKILL_1, SKILL_2, SKILL_3, CHANGE_TARGET, FLEE). Operators may
-- change the mapping with an UPDATE; the worker reads it at start and on NOTIFY ml_models.
CREATE TABLE ml.legacy_action_map (
    pack_action    smallint PRIMARY KEY CHECK (pack_action BETWEEN 0 AND 6),
    pack_action_name text NOT NULL UNIQUE,
    legacy_action  smallint NOT NULL CHECK (legacy_action BETWEEN 0 AND 9),
    why            text NOT NULL
);
INSERT INTO ml.legacy_action_map VALUES
    (0, 'HELP_ALLY',    8, 'CHANGE_TARGET: turn on the attacker of the ally in need'),
    (1, 'GROUP_UP',     2, 'MOVE_CLOSER: close in on the pack'),
    (2, 'SPLIT',        4, 'MOVE_RANDOM: spread away from the pack'),
    (3, 'FOCUS_FIRE',   1, 'ATTACK: hit the pack''s target'),
    (4, 'PROTECT_WEAK', 3, 'MOVE_AWAY: fall back beside the weakest member'),
    (5, 'FLANK_LEFT',   2, 'MOVE_CLOSER: approach the target from its left'),
    (6, 'FLANK_RIGHT',  2, 'MOVE_CLOSER: approach the target from its right');

GRANT SELECT ON ml.legacy_action_map TO ml_worker;
