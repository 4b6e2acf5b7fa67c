"""The data stack: the global tables, deployed once in the primary region with replicas elsewhere."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.budget import CostBudget
from infra.constructs.global_tables import GlobalTables


def data_stack_name(primary_region: str) -> str:
    return f"jobsched-data-{primary_region}"


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, infra_config: InfraConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.tables = GlobalTables(self, "GlobalTables", replica_regions=infra_config.replica_regions)
        # Budgets are account-wide and global: one, next to the data, in the primary region.
        self.budget = CostBudget(
            self,
            "CostBudget",
            settings=infra_config.operations.budget,
            targets=infra_config.operations.notifications.budget_targets,
        )
