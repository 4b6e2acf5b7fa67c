"""Deploy-time custom resource: the stream ARN of this region's replica of a global table.

CloudFormation returns only the deploying region's stream ARN of an AWS::DynamoDB::GlobalTable, and each
replica's stream has its own ARN (with a creation timestamp), so each regional stack looks its own up.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

import json
import urllib.request
from typing import Any

from jobsched.aws.clients import client


def handler(event: dict[str, Any], context: Any) -> None:
    table = str(event.get("ResourceProperties", {}).get("TableName", ""))
    status, reason, data = "SUCCESS", "", {}
    try:
        if event["RequestType"] != "Delete":
            data["StreamArn"] = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    except Exception as exc:  # CloudFormation must hear back either way, or it waits an hour
        status, reason = "FAILED", f"{type(exc).__name__}: {exc}"[:1000]
    answer = {
        "Status": status,
        "Reason": reason or "stream ARN looked up",
        "PhysicalResourceId": event.get("PhysicalResourceId") or f"{table}-stream",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https S3 URL
        event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - see above
        pass


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
