-- drop: DROP INDEX IF EXISTS monster_ai.signals_expires_idx;
-- The sweep finds expired SIGNALS edges through this index (expires_at is an ISO-8601 UTC string of
-- fixed width, so string order is time order). Queries must spell the expression exactly like this.
CREATE INDEX signals_expires_idx ON monster_ai."SIGNALS"
    (ag_catalog.agtype_access_operator(
        VARIADIC ARRAY[properties, '"expires_at"'::ag_catalog.agtype]));
