-- drop: DROP FUNCTION IF EXISTS ml.check_signal(text, jsonb, integer);
-- Validates a signal with plpython/signal_encoding.py (the module that encodes it, so nothing is
-- stored that the encoder would refuse), resolves its canonical type (focus_fire -> attack_target)
-- and, when priority is null, the type's default priority, and encodes it: the one dimension of the
-- 32-float vector it sets and its weight there. ml.deliver_signal stores both on the edge, so a
-- decision request reads each signal's encoding instead of running the encoder (ml.signal_entries).
-- Raises the module's error under its SQLSTATE: ML001 unknown type, ML002 priority, ML003 NaN or
-- out-of-range number (an integer too large for a float, 1e400, is infinite here: it failed with
-- 38000 inside the module; a cell of rally_point, position or positions outside 0..32767, as
-- ml.sync_monsters takes cells), ML005 malformed content, ML007 unknown formation type. A message
-- never quotes a long value whole: a type too long to be one is named abbreviated, and a message
-- longer than 200 characters is cut (as ml.abbreviate cuts values).
CREATE FUNCTION ml.check_signal(
    signal_type text, content jsonb, priority integer,
    OUT canonical_type text, OUT resolved_priority integer, OUT dimension integer,
    OUT weight double precision
)
LANGUAGE plpython3u
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
import json
import sys
import time

if "ml_signal_encoding" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
se = sys.modules["ml_signal_encoding"]

def abbreviated(text, keep):
    return text if len(text) <= keep else f"{text[:keep - 20]}... ({len(text)} characters)"


def number(text):
    # An integer beyond any float (PostgreSQL prints 1e400 as 401 digits) is infinite: the
    # module's float() raised OverflowError on it.
    return int(text) if len(text) <= 20 else float(text)


try:
    # No known type is 60 characters long: a longer one is unknown whatever it holds.
    kind = se.canonical_type(signal_type if signal_type is None or len(signal_type) <= 60
                             else abbreviated(signal_type, 60))
    resolved = se.DEFAULT_PRIORITIES[kind] if priority is None else priority
    decoded = None if content is None else json.loads(content, parse_int=number)
    se.validate_signal(kind, decoded, resolved)
    dimension = se.signal_dimension(kind, decoded)
    weight = se.priority_weight(resolved)
except se.SignalError as error:
    plpy.error(abbreviated(str(error), 200), sqlstate=error.sqlstate)
# Cells are map coordinates, 0..32767 (the module checks they are integer pairs).
cells = [(key, decoded[key]) for key in ("rally_point", "position") if key in decoded]
cells += [(f"positions[{key}]", cell) for key, cell in (decoded.get("positions") or {}).items()]
for name, cell in cells:
    if not all(0 <= v <= 32767 for v in cell):
        plpy.error(abbreviated(f"{name} must be cells in 0..32767, got {cell}", 200),
                   sqlstate="ML003")
return (kind, resolved, dimension, weight)
$$;
