-- Everything that defines the product's schema, as comparable text rows: tables and columns,
-- constraints, indexes, functions and their owners, triggers, views, privileges (the database's
-- too), graph labels, PL/Python modules.
-- The drift test compares two databases by this query. OIDs and names generated per database are
-- left out; object names and definitions are kept.
WITH product_schemas(nspname) AS (VALUES ('ml'), ('monster_ai'))
SELECT 'column' AS kind,
       format('%s.%s.%s %s null=%s default=%s', c.table_schema, c.table_name, c.column_name,
              c.data_type, c.is_nullable, c.column_default) AS definition
FROM information_schema.columns c
WHERE c.table_schema IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'constraint', format('%s.%s %s %s', n.nspname, r.relname, con.conname,
                            pg_get_constraintdef(con.oid))
FROM pg_constraint con
JOIN pg_class r ON r.oid = con.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE n.nspname IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'index', format('%s %s', schemaname, indexdef)
FROM pg_indexes
WHERE schemaname IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'function', pg_get_functiondef(p.oid) || coalesce(array_to_string(p.proacl, ','), '')
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'ml'
UNION ALL
SELECT 'function_owner', format('%s %s', p.oid::regprocedure, pg_get_userbyid(p.proowner))
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'ml'
UNION ALL
SELECT 'trigger', pg_get_triggerdef(t.oid)
FROM pg_trigger t
JOIN pg_class r ON r.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE NOT t.tgisinternal AND n.nspname IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'view', format('%s.%s %s', schemaname, viewname, definition)
FROM pg_views
WHERE schemaname IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'grant', format('%s %s.%s %s', grantee, table_schema, table_name, privilege_type)
FROM information_schema.role_table_grants
WHERE table_schema IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'column_grant', format('%s %s.%s.%s %s', grantee, table_schema, table_name, column_name,
                              privilege_type)
FROM information_schema.column_privileges
WHERE table_schema IN (SELECT nspname FROM product_schemas)
  AND grantee IN ('ml_user', 'ml_worker')
UNION ALL
SELECT 'schema_acl', format('%s %s', nspname, nspacl)
FROM pg_namespace
WHERE nspname IN (SELECT nspname FROM product_schemas)
UNION ALL
SELECT 'database_acl', format('%s %s', coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC'),
                               a.privilege_type)
FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
WHERE d.datname = current_database()
UNION ALL
SELECT 'label', format('%s %s %s', g.name, l.name, l.kind)
FROM ag_catalog.ag_label l
JOIN ag_catalog.ag_graph g ON g.graphid = l.graph
UNION ALL
SELECT 'plpython_module', format('%s %s', name, sha256)
FROM ml.plpython_modules
ORDER BY 1, 2
