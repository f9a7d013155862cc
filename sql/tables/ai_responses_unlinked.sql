-- drop: ALTER TABLE ml.ai_responses ADD CONSTRAINT ai_responses_request_id_fkey FOREIGN KEY (request_id) REFERENCES ml.ai_requests (request_id) ON DELETE CASCADE;
-- An answer no longer references its request by a foreign key: inserting a referencing row locks
-- the referenced one (FOR KEY SHARE), and the gateway's role may lock its requests FOR UPDATE (its
-- UPDATE (status) grant allows it), so one game-server session holding a request stalled the
-- worker's answer statement, and with it every pack and gateway answer. Answers are written only
-- by the worker, for requests it read from the queue; ml.purge_finished_decisions deletes a
-- request's answer with it.
ALTER TABLE ml.ai_responses DROP CONSTRAINT ai_responses_request_id_fkey;
