-- drop: DROP FUNCTION IF EXISTS ml.guard_gateway_status() CASCADE;
-- The gateway's one write to a request after its INSERT is `SET status = 'timeout'` on a pending
-- one. The UPDATE (status) grant cannot say which values, so this does: a role that is not the
-- worker's moves a request only from 'pending' to 'timeout' (42501 insufficient_privilege
-- otherwise, the row unchanged).
-- The worker sets 'completed' or 'failed' when it answers; the owner may do anything.
CREATE FUNCTION ml.guard_gateway_status() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF (OLD.status, NEW.status) IS DISTINCT FROM ('pending', 'timeout')
       AND NOT pg_has_role(current_user, 'ml_worker', 'USAGE') THEN
        RAISE EXCEPTION 'a gateway request moves only from pending to timeout (request %: % -> %)',
                        OLD.request_id, OLD.status, left(NEW.status, 16)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ai_requests_guard_status BEFORE UPDATE OF status ON ml.ai_requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ml.guard_gateway_status();
