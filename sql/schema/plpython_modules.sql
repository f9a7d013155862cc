-- drop: DROP TABLE IF EXISTS ml.plpython_modules;
-- The sources of the plpython/ modules, written here by the migrations. PL/Python bodies import them
-- through ml.plpython_bootstrap() so the database runs the very modules that the training code and the
-- host tests import: one source of truth.
CREATE TABLE ml.plpython_modules (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$'),
    source      text NOT NULL,
    sha256      text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);
