-- The floor of the decision round trip: a queue table whose worker only echoes. Same shape as the
-- product's path (insert + NOTIFY wakes the worker, it re-reads the row, writes a result and
-- NOTIFYs), nothing else. Created by bench/decisions.py in its own benchmark database.
CREATE TABLE IF NOT EXISTS public.bench_echo (
    id      bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    status  text NOT NULL DEFAULT 'pending',
    result  jsonb
);
CREATE OR REPLACE FUNCTION public.bench_echo_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bench_echo_jobs', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS bench_echo_notify ON public.bench_echo;
CREATE TRIGGER bench_echo_notify AFTER INSERT ON public.bench_echo
    FOR EACH STATEMENT EXECUTE FUNCTION public.bench_echo_notify();
GRANT SELECT, INSERT, UPDATE ON public.bench_echo TO ml_user, ml_worker;
GRANT USAGE ON SEQUENCE public.bench_echo_id_seq TO ml_user, ml_worker;
