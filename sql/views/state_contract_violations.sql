-- drop: DROP VIEW IF EXISTS ml.state_contract_violations;
-- How many of the legacy gateway's latest requests send a state that breaks the game server's
-- contract (docs/state_contract.md), and which dimensions most often: one row per (dimension,
-- kind of problem) found, plus one row with name 'any' (always there, dim null) counting the
-- requests with any problem. requests_checked is the window: the latest 1,000 requests by
-- request_id (a backward scan of the primary key, whatever the table holds; the queue tables
-- keep finished requests queues.retention_seconds, 10 minutes, so at 1,000 requests a second the
-- table holds 600,000). Each state is checked by ml.state_contract_problems, the module's own
-- check: measured on the 2-core development server, 0.1 s for the view over 1,000 states that
-- keep the contract, 0.4 s over 1,000 that break 38 dimensions each (a message for every
-- problem). A state longer than 64 elements is
-- counted as a shape problem here without being handed to Python (the gateway stores whatever
-- it sends; converting a huge array would cost its size).
--   SELECT * FROM ml.state_contract_violations ORDER BY requests DESC LIMIT 10;
CREATE VIEW ml.state_contract_violations AS
WITH recent AS (
    SELECT r.request_id, r.state_vector AS state
    FROM ml.ai_requests AS r
    ORDER BY r.request_id DESC
    LIMIT 1000
), found AS (
    SELECT r.request_id, p.dim, p.grp, p.name, p.kind, p.problem
    FROM recent AS r
    CROSS JOIN LATERAL ml.state_contract_problems(r.state) AS p
    WHERE cardinality(r.state) <= 64
    UNION ALL
    SELECT r.request_id, NULL, NULL, 'state', 'shape',
           format('state must be 64 numbers, got %s', cardinality(r.state))
    FROM recent AS r
    WHERE cardinality(r.state) > 64
), window_ AS (
    SELECT count(*) AS checked FROM recent
)
SELECT NULL::integer AS dim, NULL::text AS grp, 'any'::text AS name, 'any'::text AS kind,
       count(DISTINCT f.request_id) AS requests,
       w.checked AS requests_checked,
       round(count(DISTINCT f.request_id)::numeric / greatest(w.checked, 1), 4) AS share,
       max(f.request_id) AS last_request_id,
       (array_agg(f.problem ORDER BY f.request_id DESC, f.dim))[1] AS example
FROM window_ AS w
LEFT JOIN found AS f ON true
GROUP BY w.checked
UNION ALL
SELECT f.dim, f.grp, f.name, f.kind,
       count(*) AS requests,
       w.checked,
       round(count(*)::numeric / greatest(w.checked, 1), 4),
       max(f.request_id),
       (array_agg(f.problem ORDER BY f.request_id DESC))[1]
FROM found AS f
CROSS JOIN window_ AS w
GROUP BY f.dim, f.grp, f.name, f.kind, w.checked;
GRANT SELECT ON ml.state_contract_violations TO ml_worker;
