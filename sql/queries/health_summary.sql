-- One row per fact of the health summary that `make demo` prints: (section, item, detail).
SELECT 'server' AS section, 'version' AS item, current_setting('server_version') AS detail
UNION ALL
SELECT 'server', 'database', current_database()
UNION ALL
(SELECT 'extension', extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname)
UNION ALL
(SELECT 'graph label', g.name || '.' || l.name, CASE l.kind WHEN 'v' THEN 'vertex' ELSE 'edge' END
 FROM ag_catalog.ag_label l JOIN ag_catalog.ag_graph g ON g.graphid = l.graph
 WHERE l.name NOT LIKE '\_ag\_label\_%' ORDER BY l.kind DESC, l.name)
UNION ALL
(SELECT 'table', n.nspname || '.' || c.relname, CASE WHEN c.reltuples < 0 THEN 'empty or not analyzed yet'
                                                   ELSE c.reltuples::bigint::text || ' rows (estimate)' END
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'ml' AND c.relkind IN ('r', 'p') ORDER BY c.relname)
UNION ALL
(SELECT 'role', rolname,
        concat_ws(' ', CASE WHEN rolsuper THEN 'superuser' END, CASE WHEN rolcanlogin THEN 'login' END)
 FROM pg_roles WHERE rolname IN ('ml_admin', 'ml_worker', 'ml_user') ORDER BY rolname)
UNION ALL
SELECT 'migration', 'alembic head', (SELECT string_agg(version_num, ',') FROM public.alembic_version)
