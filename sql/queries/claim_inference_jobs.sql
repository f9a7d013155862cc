-- Claim every pending decision job (up to $2) for worker $1 in one statement. SKIP LOCKED lets
-- workers side by side claim disjoint sets without waiting on each other. The claim also says
-- whether the worker is idle (ml.workers.waiting, read by ml.wake_idle_workers): one that found
-- jobs is busy and gets no NOTIFY; one that found none is about to sleep, and from the commit of
-- this statement on, new jobs NOTIFY it (a separate statement before cost each idle worker one
-- more round trip between its last answer and its sleep).
-- max_attempts holds here too: a pending job that has used all its attempts (put back by hand, or
-- re-queued by a release that did not check them) is claimed without a new attempt and returned
-- `exhausted`; the worker gives it straight back through the rescue query, which makes it dead
-- and answers it as every dead job is answered.
-- Each claimed pack job comes with its monsters' recurrent memory (ml.monster_memory, shared with
-- the other workers and inline decisions, so a monster continues wherever its last tick was
-- answered): the memory under the pack_coordination model this worker serves for the monster's
-- archetype, given as $3 archetypes and $4 their model ids (an archetype without an entry reads
-- none). memory_rows are 1-based positions within the job (in no particular order), memory[i]
-- the state of the monster at memory_rows[i]; both null when none of its monsters has memory.
-- Read here, not in a statement of its own, to cost no round trip. Gateway jobs read none: they
-- run from zeros (worker/decide.py).
WITH claimed AS (
    UPDATE ml.inference_jobs AS j
    SET status = 'running',
        worker_id = $1,
        attempts = CASE WHEN picked.exhausted THEN j.attempts ELSE j.attempts + 1 END,
        heartbeat_at = clock_timestamp(),
        started_at = coalesce(j.started_at, clock_timestamp())
    FROM (
        SELECT id, attempts >= max_attempts AS exhausted FROM ml.inference_jobs
        WHERE status = 'pending'
        ORDER BY priority, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) AS picked
    WHERE j.id = picked.id
    -- The floats in their binary send format, or packed as the game server sent them: the
    -- worker reads either with one numpy call (plpython/pgarrays.py) instead of one Python
    -- float each.
    RETURNING j.id, j.kind, j.monster_ids, j.archetypes, array_send(j.states) AS states,
              j.states_f32,
              j.signal_rows, j.signal_dims, array_send(j.signal_weights) AS signal_weights,
              j.pack_leader_ids, j.attempts, j.max_attempts, j.gateway_request_id,
              picked.exhausted
), idle AS (
    SELECT NOT EXISTS (SELECT 1 FROM claimed) AS idle
), marked AS (
    UPDATE ml.workers AS w SET waiting = i.idle
    FROM idle AS i
    WHERE w.worker_id = $1 AND w.waiting IS DISTINCT FROM i.idle AND w.status = 'running'
), wanted AS (
    -- Every claimed pack job's monsters under their archetype's model, as parallel arrays (one
    -- aggregation: one order) across the whole claim: one call of ml.read_monster_memory for the
    -- round, not one per job (a round holds up to 512 jobs), and its `ord` finds each row's job
    -- and position by subscript, not by a join.
    SELECT array_agg(c.id) AS job_ids, array_agg(u.pos::integer) AS positions,
           array_agg(s.model_id) AS model_ids, array_agg(u.monster_id) AS monster_ids
    FROM claimed AS c
    CROSS JOIN LATERAL unnest(c.monster_ids, c.archetypes)
        WITH ORDINALITY AS u(monster_id, archetype, pos)
    JOIN unnest($3::text[], $4::bigint[]) AS s(archetype, model_id) ON s.archetype = u.archetype
    WHERE c.kind = 'pack'
), found AS MATERIALIZED (
    -- Materialized: each row's job and position taken out of the arrays once. Inlined into the
    -- grouping below, the planner sorted the rows with the claim's whole arrays attached (28 MB
    -- on disk for a claim of 512 packs of 5).
    SELECT w.job_ids[r.ord] AS id, w.positions[r.ord] AS pos, r.hidden
    FROM wanted AS w
    CROSS JOIN LATERAL ml.read_monster_memory(w.model_ids, w.monster_ids) AS r
), memory AS (
    SELECT f.id, array_agg(f.pos) AS memory_rows, array_agg(f.hidden) AS memory
    FROM found AS f
    GROUP BY f.id
)
SELECT c.*, m.memory_rows, m.memory
FROM claimed AS c
LEFT JOIN memory AS m ON m.id = c.id
