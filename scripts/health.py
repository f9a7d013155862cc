"""Print the health summary of the product database: server, extensions, graph, tables, roles."""

from __future__ import annotations

import sys

import psycopg

from config.queries import query
from config.settings import load_settings

HEADINGS = {
    "extension": "extensions",
    "graph label": "graph labels",
    "table": "tables",
    "role": "roles",
}


def health_rows(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return [(s, i, d or "") for s, i, d in conn.execute(query("health_summary").encode())]


def print_health(url: str) -> None:
    rows = health_rows(url)
    width = max(len(item) for _, item, _ in rows)
    section = ""
    for sec, item, detail in rows:
        if sec != section:
            print(f"\n{HEADINGS.get(sec, sec)}:")
            section = sec
        print(f"  {item:<{width}}  {detail}")


def main() -> int:
    print_health(load_settings().admin_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
