"""Sets of customers in temporary tables, and the per-customer tables that are rewritten for
them: the refresh's dirty set, and the behaviour and reachability passes' targets."""

from typing import Any

from psycopg import sql


def customer_set_create(cursor: Any, name: str) -> None:
    """A fresh temporary table `name` of customer ids, dropped at the end of the transaction."""
    cursor.execute(
        sql.SQL(
            "DROP TABLE IF EXISTS pg_temp.{table}; "
            "CREATE TEMP TABLE {table} (customer_id bigint PRIMARY KEY) ON COMMIT DROP"
        ).format(table=sql.Identifier(name))
    )


def customer_rows_delete(
    cursor: Any, *, table: str, alias: str, condition: sql.Composable, within: str | None
) -> int:
    """Delete the rows of the per-customer `table` (named `alias` in `condition`) that meet
    `condition`: all of them, or (`within`: a customer set) only those of that set's customers.
    Returns how many went."""
    names = {"table": sql.Identifier(table), "alias": sql.Identifier(alias), "condition": condition}
    if within is None:
        delete = sql.SQL("DELETE FROM {table} {alias} WHERE {condition}").format(**names)
    else:
        delete = sql.SQL(
            "DELETE FROM {table} {alias} USING {within} t "
            "WHERE {alias}.customer_id = t.customer_id AND {condition}"
        ).format(within=sql.Identifier(within), **names)
    cursor.execute(delete)
    return int(cursor.rowcount)
