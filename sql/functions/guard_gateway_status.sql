-- drop: DROP FUNCTION IF EXISTS ml.guard_gateway_status() CASCADE;
-- The gateway's one write to a request after its INSERT is `SET status = 'timeout'` when its 15 ms
-- passed. The UPDATE (status) grant cannot say which values, so this does: a role that is not the
-- worker's moves a request only from 'pending' to 'timeout'. Its timeout of a request answered
-- since its last poll (a race the gateway cannot avoid) leaves the row as it is, without an error;
-- any other change is refused (42501 insufficient_privilege, the row unchanged).
-- The worker sets 'completed' or 'failed' when it answers; the owner may do anything.
CREATE FUNCTION ml.guard_gateway_status() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF (OLD.status, NEW.status) = ('pending', 'timeout')
       OR pg_has_role(current_user, 'ml_worker', 'USAGE') THEN
        RETURN NEW;
    END IF;
    IF NEW.status = 'timeout' THEN
        RETURN NULL;  -- answered (or failed) before the gateway gave up: it stays so
    END IF;
    RAISE EXCEPTION 'a gateway request moves only from pending to timeout (request %: % -> %)',
                    OLD.request_id, OLD.status, left(NEW.status, 16)
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ai_requests_guard_status BEFORE UPDATE OF status ON ml.ai_requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ml.guard_gateway_status();
