"""The regional web application firewall in front of the API stage (AWS WAF v2, scope REGIONAL).

Rules, in evaluation order:
0. AWS's Amazon IP reputation list: addresses AWS threat intelligence knows for bots and attacks.
1. The spec's per-client-IP limit, 100 requests/s, as WAF counts it: 6,000 requests per 60 s window. Over it,
   a JSON 429 with Retry-After (the same answer the local gateway gives).
2. The API's request-body limit (jobsched.api.http_api.MAX_REQUEST_BYTES) on the declared Content-Length. WAF
   only ever sees the first 16 KB of a body, so the size has to come from the header; a body without one
   still meets the function's own check.
3. AWS's Common rule set (OWASP top risks), with its 8 KB body-size rule counted instead of blocking: the
   API accepts bodies up to 256 KB, and rule 2 enforces that.
4. AWS's Known bad inputs (exploit payloads such as Log4j lookups).
Shield Standard protects the endpoint against network and transport layer DDoS without configuration.

Blocked and counted requests are logged (allowed ones are not: they are in the API's access log already)
to a log group named aws-waf-logs-..., with API keys and authorization headers redacted.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from jobsched import config
from jobsched.api.http_api import MAX_REQUEST_BYTES, error_document, per_ip_limit_body
from jobsched.errors import PayloadTooLarge

WAF_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
PER_IP_LIMIT_BODY_KEY = "per-ip-limit"
BODY_TOO_LARGE_BODY_KEY = "body-too-large"
# Headers whose values never go into WAF logs.
REDACTED_HEADERS = (config.API_KEY_HEADER, "authorization")
# AWS managed rule groups: (rule and metric name, group name, priority, rules counted instead of blocked).
MANAGED_RULE_GROUPS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("AmazonIpReputation", "AWSManagedRulesAmazonIpReputationList", 0, ()),
    ("CommonRuleSet", "AWSManagedRulesCommonRuleSet", 3, ("SizeRestrictions_BODY",)),
    ("KnownBadInputs", "AWSManagedRulesKnownBadInputsRuleSet", 4, ()),
)
PER_IP_RULE = "PerIpRateLimit"
BODY_SIZE_RULE = "BodySizeLimit"


def web_acl_name(region: str) -> str:
    return f"{config.SERVICE}-{region}"


def waf_log_group_name(region: str) -> str:
    # WAF logs only to log groups whose names start with aws-waf-logs-.
    return f"aws-waf-logs-{config.SERVICE}-{region}"


def integer_greater_than_pattern(limit: int) -> str:
    """A regular expression matching exactly the decimal integers greater than `limit`.

    WAF cannot compare a header as a number, so the comparison is spelled out: any number with more digits,
    or one with as many digits that is larger at the first digit where it differs. Leading zeros are allowed.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    digits = str(limit)
    alternatives = [f"[1-9][0-9]{{{len(digits)},}}"]
    for index, digit in enumerate(digits):
        if digit == "9":
            continue
        rest = len(digits) - index - 1
        tail = "" if rest == 0 else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"
        alternatives.append(f"{digits[:index]}[{int(digit) + 1}-9]{tail}")
    return f"^0*({'|'.join(alternatives)})$"


def body_too_large_body() -> str:
    """The same envelope and code as the function's own 413 (jobsched.api.http_api), naming the header."""
    limit = f"must be at most {MAX_REQUEST_BYTES} bytes"
    document = error_document(
        PayloadTooLarge.code,
        f"request body {limit}",
        [{"field": "Content-Length", "message": limit}],
    )
    return json.dumps(document, separators=(",", ":"))


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(
    name: str, group: str, priority: int, counted: tuple[str, ...]
) -> wafv2.CfnWebACL.RuleProperty:
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in counted
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(name),
    )


def _per_ip_rule() -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=PER_IP_RULE,
        priority=1,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    custom_response_body_key=PER_IP_LIMIT_BODY_KEY,
                    response_headers=[
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                            name="Retry-After", value=str(config.PER_IP_RETRY_AFTER_SECONDS)
                        )
                    ],
                )
            )
        ),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=config.PER_IP_LIMIT_PER_WINDOW,
                evaluation_window_sec=config.PER_IP_WINDOW_SECONDS,
                aggregate_key_type="IP",
            )
        ),
        visibility_config=_visibility(PER_IP_RULE),
    )


def _body_size_rule() -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=BODY_SIZE_RULE,
        priority=2,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=413, custom_response_body_key=BODY_TOO_LARGE_BODY_KEY
                )
            )
        ),
        statement=wafv2.CfnWebACL.StatementProperty(
            regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "content-length"}),
                regex_string=integer_greater_than_pattern(MAX_REQUEST_BYTES),
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        ),
        visibility_config=_visibility(BODY_SIZE_RULE),
    )


class WebAcl(Construct):
    """A web ACL with the rules above, associated with the API's stage, logging what it blocks or counts."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: apigw.Stage) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.name = web_acl_name(stack.region)
        rules = [
            _managed_rule(*MANAGED_RULE_GROUPS[0]),
            _per_ip_rule(),
            _body_size_rule(),
            *(_managed_rule(*group) for group in MANAGED_RULE_GROUPS[1:]),
        ]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=self.name,
            scope="REGIONAL",
            description="jobsched API: IP reputation, per-IP rate limit, body size, OWASP common rules",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={
                PER_IP_LIMIT_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=per_ip_limit_body()
                ),
                BODY_TOO_LARGE_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=body_too_large_body()
                ),
            },
            rules=rules,
            visibility_config=_visibility(self.name),
        )
        wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=waf_log_group_name(stack.region), retention=WAF_LOG_RETENTION
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # WAF wants the log group's ARN without the ":*" that CloudFormation's Arn attribute ends with.
            log_destination_configs=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [
                            {"ActionCondition": {"Action": "BLOCK"}},
                            {"ActionCondition": {"Action": "COUNT"}},
                        ],
                    }
                ],
            },
        )
