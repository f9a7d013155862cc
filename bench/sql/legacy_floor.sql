-- The legacy gateway's floor on this machine: its exact SQL against tables shaped like the
-- product's `ai_requests` / `ai_responses` (columns, defaults, checks, keys) whose every request is
-- answered inside its own INSERT (action 0) by a row trigger, so that its first poll finds the
-- answer. No queue, no worker, no model: what the protocol itself costs, one INSERT and one poll
-- per request. bench/legacy_gateway.py runs the gateway against it with search_path set to this
-- schema. Created by bench/decisions.py in its own benchmark database.
DROP SCHEMA IF EXISTS gateway_floor CASCADE;
CREATE SCHEMA gateway_floor;
CREATE SEQUENCE gateway_floor.request_ids;
CREATE TABLE gateway_floor.ai_requests (LIKE ml.ai_requests INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE gateway_floor.ai_requests
    ALTER COLUMN request_id SET DEFAULT nextval('gateway_floor.request_ids'),
    ADD PRIMARY KEY (request_id);
CREATE SEQUENCE gateway_floor.response_ids;
CREATE TABLE gateway_floor.ai_responses (LIKE ml.ai_responses INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE gateway_floor.ai_responses
    ALTER COLUMN response_id SET DEFAULT nextval('gateway_floor.response_ids'),
    ADD PRIMARY KEY (response_id),
    ADD UNIQUE (request_id),
    ADD FOREIGN KEY (request_id) REFERENCES gateway_floor.ai_requests (request_id) ON DELETE CASCADE;
CREATE FUNCTION gateway_floor.answer_at_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gateway_floor.ai_responses (request_id, action_id, confidence)
    VALUES (NEW.request_id, 0, 1.0);
    RETURN NULL;
END;
$$;
CREATE TRIGGER answer_at_once AFTER INSERT ON gateway_floor.ai_requests
    FOR EACH ROW EXECUTE FUNCTION gateway_floor.answer_at_once();
GRANT USAGE ON SCHEMA gateway_floor TO ml_user;
GRANT SELECT, INSERT, UPDATE ON gateway_floor.ai_requests, gateway_floor.ai_responses TO ml_user;
GRANT USAGE ON SEQUENCE gateway_floor.request_ids, gateway_floor.response_ids TO ml_user;
