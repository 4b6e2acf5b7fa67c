"""The regional stack: everything that serves requests in one region, on top of the local table replicas."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.alarm_topics import AlarmTopics
from infra.constructs.api_gateway import ApiGateway
from infra.constructs.bulk_operations import BulkOperations
from infra.constructs.dashboards import Dashboards
from infra.constructs.deep_health import DeepHealthRoute
from infra.constructs.execution import Execution
from infra.constructs.execution_archive import ExecutionArchive
from infra.constructs.execution_queue import ExecutionQueue
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.global_endpoint import RegionalEndpoint
from infra.constructs.heartbeat import Heartbeat
from infra.constructs.identity_api_routes import IdentityApiRoutes
from infra.constructs.job_api_routes import JobApiRoutes, api_v1_resource
from infra.constructs.job_metrics import JobMetrics
from infra.constructs.key_authorizer import KeyAuthorizer
from infra.constructs.operations_alarms import OperationsAlarms
from infra.constructs.regional_tables import RegionalTables
from infra.constructs.schedule_api_routes import ScheduleApiRoutes
from infra.constructs.scheduling import Scheduling
from infra.constructs.usage_plans import TierUsagePlans
from infra.constructs.user_directory import UserDirectory
from infra.constructs.web_acl import WebAcl
from jobsched import config
from jobsched.execution.heartbeat import HEARTBEAT_PROBE_PATH


def regional_stack_name(region: str) -> str:
    return f"jobsched-{region}"


class RegionalStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, infra_config: InfraConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tables = RegionalTables(self, "Tables")
        self.execution_queue = ExecutionQueue(self, "ExecutionQueue")
        functions = FunctionFactory(
            self,
            "Functions",
            regions=infra_config.regions,
            deployment=infra_config.operations.deployment,
        )

        api = ApiGateway(
            self, "Api", stage_rate_per_second=config.STAGE_RATE_PER_SECOND, stage_burst=config.STAGE_BURST
        )
        TierUsagePlans(self, "UsagePlans", rest_api=api.rest_api, tiers=infra_config.tiers)
        health_function = functions.create(
            "HealthFunction", code_dir="health", description="jobsched GET /health"
        )
        api.add_health_route(functions.live_alias(health_function))
        DeepHealthRoute(
            self,
            "DeepHealth",
            functions=functions,
            api=api,
            jobs_table=tables.jobs_table,
            queue=self.execution_queue.queue,
        )
        self.web_acl = WebAcl(self, "Waf", stage=api.stage)
        global_domain = infra_config.global_domain
        self.endpoint = (
            RegionalEndpoint(self, "GlobalEndpoint", domain=global_domain, rest_api=api.rest_api)
            if global_domain is not None
            else None
        )

        key_authorizer = KeyAuthorizer(
            self,
            "KeyAuthorizer",
            functions=functions,
            jobs_table=tables.jobs_table,
            auth=infra_config.auth,
            primary_region=infra_config.primary_region,
        )
        # One user pool, in the primary region, whose tokens every region's authorizer trusts.
        self.user_directory = (
            UserDirectory(self, "Users", domain_prefix=infra_config.auth.cognito_domain_prefix)
            if infra_config.auth.uses_cognito and self.region == infra_config.primary_region
            else None
        )
        api_v1 = api_v1_resource(api.rest_api, authorizer=key_authorizer.authorizer)
        JobApiRoutes(
            self,
            "JobApi",
            api_v1=api_v1,
            request_validator=api.request_validator,
            functions=functions,
            jobs_table=tables.jobs_table,
        )
        execution = Execution(
            self,
            "Execution",
            functions=functions,
            api_v1=api_v1,
            request_validator=api.request_validator,
            queue=self.execution_queue.queue,
            jobs_table=tables.jobs_table,
            executions_table=tables.executions_table,
            regions=infra_config.regions,
        )

        self.job_metrics = JobMetrics(
            self,
            "JobMetrics",
            functions=functions,
            jobs_table=tables.jobs_table,
            executions_table=tables.executions_table,
        )
        self.scheduling = Scheduling(
            self, "Scheduling", functions=functions, execution_queue=self.execution_queue
        )
        Heartbeat(
            self,
            "Heartbeat",
            scheduling=self.scheduling,
            execution_queue=self.execution_queue,
            executor=execution.executor,
            jobs_table=tables.jobs_table,
            api_health_url=api.rest_api.url_for_path(HEARTBEAT_PROBE_PATH),
        )
        self.bulk = BulkOperations(
            self,
            "BulkOperations",
            functions=functions,
            jobs_table=tables.jobs_table,
            execution_queue=self.execution_queue.queue,
        )
        ScheduleApiRoutes(
            self,
            "ScheduleApi",
            api_v1=api_v1,
            request_validator=api.request_validator,
            functions=functions,
            jobs_table=tables.jobs_table,
            execution_queue=self.execution_queue.queue,
            bulk_queue=self.bulk.queue,
        )

        IdentityApiRoutes(
            self,
            "IdentityApi",
            api_v1=api_v1,
            request_validator=api.request_validator,
            functions=functions,
            jobs_table=tables.jobs_table,
            auth=infra_config.auth,
            primary_region=infra_config.primary_region,
        )

        # Operations last, once every function exists: each gets its dashboard widgets and its own alarms.
        topics = AlarmTopics(self, "AlarmTopics", notifications=infra_config.operations.notifications)
        self.archive = ExecutionArchive(
            self,
            "ExecutionArchive",
            functions=functions,
            executions_table=tables.executions_table,
            regions=infra_config.regions,
            readers=[execution.api_function],
            alarm_topic=topics.warning,
        )
        tables_in_region = [tables.jobs_table, tables.executions_table_by_name]
        alarms = OperationsAlarms(
            self,
            "Alarms",
            dead_letter_queue=self.execution_queue.dead_letter_queue,
            tables=tables_in_region,
            critical_topic=topics.critical,
            warning_topic=topics.warning,
            web_acl_name=self.web_acl.name,
            scheduler_dead_letter_queue=self.scheduling.scheduler_dlq,
            sync_dead_letter_queue=self.scheduling.sync_dlq,
            bulk_dead_letter_queue=self.bulk.dead_letter_queue,
            functions=functions.functions,
        )
        for alarm in alarms.alarms.rollback:
            functions.add_rollback_alarm(alarm)
        for own in alarms.alarms.per_function:
            for alarm in own.alarms:
                own.function.deployment_group.add_alarm(alarm)
        if alarms.alarms.heartbeat is not None:
            functions.deployment_group(execution.executor).add_alarm(alarms.alarms.heartbeat)
        dashboards = Dashboards(
            self,
            "Dashboards",
            rest_api=api.rest_api,
            access_logs=api.access_logs,
            functions=functions.functions,
            queue=self.execution_queue.queue,
            dead_letter_queue=self.execution_queue.dead_letter_queue,
            tables=tables_in_region,
            alarms=alarms.alarms,
            other_dead_letter_queues={
                "Scheduler DLQ": self.scheduling.scheduler_dlq,
                "schedule-sync DLQ": self.scheduling.sync_dlq,
                "bulk DLQ": self.bulk.dead_letter_queue,
            },
        )
        # The edge on the application-performance dashboard: allowed and blocked requests, by the web ACL.
        dashboards.facades["ApplicationPerformance"].monitor_web_application_firewall_acl_v2(
            acl=self.web_acl.web_acl,
            region=self.region,
            human_readable_name="WAF (per-IP limit, body size, managed rules)",
        )

        self.api_url_output = CfnOutput(
            self, "ApiUrl", value=api.rest_api.url, description="Base URL of the prod stage"
        )
        CfnOutput(
            self, "ApiId", value=api.rest_api.rest_api_id, description="REST API id (for key onboarding)"
        )
        if global_domain is not None:
            CfnOutput(
                self,
                "GlobalUrl",
                value=f"https://{global_domain.domain_name}/",
                description="The one name for every region (latency routing, health-checked failover)",
            )
