-- drop: DROP INDEX IF EXISTS ml.ai_requests_created_idx;
-- Requests answered inside their INSERT (docs/inline_serving.md) have no decision job, so the purge
-- of finished jobs never reaches them: ml.purge_inline_answers finds them by age through this index
-- instead of scanning every request of the retention window.
CREATE INDEX ai_requests_created_idx ON ml.ai_requests (created_at);
