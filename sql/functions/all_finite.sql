-- drop: DROP FUNCTION IF EXISTS ml.all_finite(real[]);
-- Whether every element of an array (any shape) is a finite float: false for NaN, an infinity or
-- a null. NaN sorts above Infinity, so `< Infinity` and `> -Infinity` for every element excludes all
-- three in two comparisons each, and a null makes the comparison unknown, read here as false. The
-- one spelling of "finite" for states (the ml.monsters CHECK, the syncs' and the decision
-- requests' checks); a plain SQL expression, so the planner inlines it.
CREATE FUNCTION ml.all_finite(v real[]) RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN coalesce('Infinity'::real > ALL (v) AND '-Infinity'::real < ALL (v), false);
GRANT EXECUTE ON FUNCTION ml.all_finite(real[]) TO ml_user, ml_worker;
