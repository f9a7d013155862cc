-- One setting out of ml.config (a migration's downgrade removes the keys its upgrade added).
DELETE FROM ml.config WHERE key = %(key)s
