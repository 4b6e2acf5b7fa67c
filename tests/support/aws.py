"""The service's tables in moto, made by the local runtime's provisioner, as the CDK data stack has them."""

from __future__ import annotations

from typing import Any

from jobsched import tables
from jobsched_local.provision import ensure_table


def create_tables(client: Any) -> None:
    """Without TTL: tests write items on fixed clocks, often days in the past, and DynamoDB Local would
    delete the expired ones from under them (a few every ten seconds, whenever its sweep comes round)."""
    for table in tables.TABLES:
        ensure_table(client, table, expire_items=False)
