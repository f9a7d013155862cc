-- One setting into ml.config (the migrations load config/ctde_config.yaml). An existing key keeps
-- its value: an operator's change survives a later migration.
INSERT INTO ml.config (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO NOTHING
