-- drop: DROP TABLE IF EXISTS ml.signal_sweeps;
-- How many expired SIGNALS edges each sweep removed (only sweeps that removed any), for the
-- "expired per minute" diagnostics. Append-only, so concurrent sweeps never wait on each other;
-- ml.expire_signals keeps one day.
CREATE TABLE ml.signal_sweeps (
    swept_at timestamptz NOT NULL,
    source   text NOT NULL CHECK (source IN ('arrival', 'sweep')),
    expired  integer NOT NULL CHECK (expired > 0)
);
CREATE INDEX signal_sweeps_swept_at_idx ON ml.signal_sweeps (swept_at);

GRANT SELECT ON ml.signal_sweeps TO ml_worker;
