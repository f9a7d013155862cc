-- drop: DROP FUNCTION IF EXISTS ml.cancel_decision(bigint);
-- Withdraw a decision request that no worker has claimed yet. Returns true when it was cancelled,
-- false when it was already running or finished (its answer still comes). Unknown job: P0002.
CREATE FUNCTION ml.cancel_decision(job_id bigint) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE ml.inference_jobs SET status = 'cancelled', finished_at = clock_timestamp()
    WHERE id = job_id AND kind = 'pack' AND status = 'pending';
    IF FOUND THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ml.inference_jobs WHERE id = job_id AND kind = 'pack') THEN
        RAISE EXCEPTION 'no decision job %', job_id USING ERRCODE = 'P0002';
    END IF;
    RETURN false;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.cancel_decision(bigint) TO ml_user;
