-- drop: DROP FUNCTION IF EXISTS ml.signal_entries(integer[]);
-- The non-zero entries of a batch of monsters' signal vectors, from one query: row k of the batch
-- (1-based) has weights[i] in dimension dims[i] (0-31) where rows[i] = k; ascending by row, then
-- dimension. Each live signal sets one dimension to its weight and several on one dimension keep
-- the strongest (plpython/signal_encoding.py, docs/signal_encoding.md), so the entries are the
-- maximum weight per (row, dimension) of the receivers' live SIGNALS edges. The encoding itself was
-- done once, when the signal was sent (ml.check_signal; the edge carries dim and weight): this runs
-- for every monster of every decision request, and with the encoder called here every backend
-- submitting ran PL/Python (with 50 connections submitting packs of 5: 2,150-2,280 typed jobs/s
-- then, 2,385-2,830 now). An edge without its encoding (made by hand, or sent before it was
-- stored) is encoded here by the same module, one call per such edge. A monster the database does not know
-- has no entries (ml.request_pack_actions raises P0002 before it gets here; the legacy gateway
-- never raises). Up to 16 monsters (a pack, a few packs) each receiver's edges are probed; a batch
-- takes them from ml.signals_received_by_batch (one index scan over the batch).
CREATE FUNCTION ml.signal_entries(monster_ids integer[], OUT rows integer[], OUT dims integer[],
                                  OUT weights real[])
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    SELECT coalesce(array_agg(s.ord ORDER BY s.ord, s.dim), '{}'),
           coalesce(array_agg(s.dim ORDER BY s.ord, s.dim), '{}'),
           coalesce(array_agg(s.weight ORDER BY s.ord, s.dim), '{}')
    INTO rows, dims, weights
    FROM (
        SELECT e.ord, e.dim, max(e.weight)::real AS weight
        FROM (
            SELECT l.ord,
                   CASE WHEN l.dim IS NOT NULL THEN l.dim::integer
                        ELSE (ml.check_signal(l.signal_type::text,
                                              ag_catalog.agtype_out(l.content)::text::jsonb,
                                              l.priority::integer)).dimension END AS dim,
                   CASE WHEN l.weight IS NOT NULL THEN l.weight::double precision
                        ELSE (ml.check_signal(l.signal_type::text,
                                              ag_catalog.agtype_out(l.content)::text::jsonb,
                                              l.priority::integer)).weight END AS weight
            FROM (
                -- A few monsters: each receiver's edges by end_id, a LATERAL sub-select kept
                -- whole by OFFSET 0, so that whatever the statistics say the planner cannot start
                -- from SIGNALS.
                SELECT u.ord::integer AS ord, r.properties
                FROM unnest(monster_ids) WITH ORDINALITY AS u(id, ord)
                JOIN ml.monsters m ON m.id = u.id
                CROSS JOIN LATERAL (
                    SELECT sig.properties FROM monster_ai."SIGNALS" sig
                    WHERE sig.end_id = m.vertex_id
                    OFFSET 0) AS r
                WHERE cardinality(monster_ids) <= 16  -- decided once per call, not per row
                UNION ALL
                SELECT b.ord, b.properties FROM ml.signals_received_by_batch(monster_ids) AS b
                WHERE cardinality(monster_ids) > 16
            ) AS received
            -- The edge's fields; the expiry test spelled with -> as in ml.signal_vector, so that
            -- no plan ever walks every live signal by the expiry index.
            CROSS JOIN LATERAL (
                SELECT received.ord,
                       received.properties OPERATOR(ag_catalog.->) 'dim'::text AS dim,
                       received.properties OPERATOR(ag_catalog.->) 'weight'::text AS weight,
                       received.properties OPERATOR(ag_catalog.->) 'signal_type'::text AS signal_type,
                       received.properties OPERATOR(ag_catalog.->) 'content'::text AS content,
                       received.properties OPERATOR(ag_catalog.->) 'priority'::text AS priority
                WHERE (received.properties OPERATOR(ag_catalog.->) 'expires_at'::text)
                      OPERATOR(ag_catalog.>) ml.graph_time(ml.clock_now())) AS l
        ) AS e
        GROUP BY e.ord, e.dim
    ) AS s;
END;
$$;
