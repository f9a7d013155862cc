import psycopg


def test_clone_has_graph(admin: psycopg.Connection) -> None:
    rows = admin.execute("SELECT name FROM ag_catalog.ag_label ORDER BY name").fetchall()
    assert [r[0] for r in rows][:2]
