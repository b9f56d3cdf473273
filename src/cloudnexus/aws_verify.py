"""`cloudnexus doctor --aws FUNCTION`: read a deployment back and check each checklist item."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

REQUIRED_ENV = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "S3_BUCKET", "LOG_LEVEL",
                "CORS_ORIGINS"}
VPC_ACTIONS = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
               "ec2:UnassignPrivateIpAddresses"}
S3_ACTIONS = {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"}
# Under the HTTP API's 30 s integration timeout, so a slow request ends in the function (logged)
API_TIMEOUT_MAX = 28
# Maintenance lists the whole bucket: minutes, not the API's seconds (Lambda's limit is 900).
MAINTENANCE_TIMEOUT = range(300, 901)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class Deployment:
    """What one function's deployment looks like, read with boto3."""

    def __init__(self, function_name: str, client: Callable[[str], Any],
                 maintenance_function: str | None = None) -> None:
        self.client = client
        self.function = client("lambda").get_function_configuration(FunctionName=function_name)
        self.maintenance_name = maintenance_function or maintenance_function_name(
            self.function["FunctionName"])
        self.env: dict[str, str] = self.function.get("Environment", {}).get("Variables", {})
        groups = self.function.get("VpcConfig", {}).get("SecurityGroupIds", [])
        self.lambda_sg = self._group(groups[0]) if groups else {}
        database_groups = [pair["GroupId"] for rule in self.lambda_sg.get("IpPermissionsEgress", [])
                           if rule.get("FromPort") == 5432
                           for pair in rule.get("UserIdGroupPairs", [])]
        self.database_sg = self._group(database_groups[0]) if database_groups else {}

    def _group(self, group_id: str) -> dict[str, Any]:
        groups = self.client("ec2").describe_security_groups(GroupIds=[group_id])
        group: dict[str, Any] = groups["SecurityGroups"][0]
        return group

    def role_statements(self) -> list[dict[str, Any]]:
        iam = self.client("iam")
        role = self.function["Role"].rsplit("/", 1)[-1]
        found = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(unquote(document))
            statements = document["Statement"]
            found += statements if isinstance(statements, list) else [statements]
        return found


def maintenance_function_name(api_function: str) -> str:
    """deploy/template.yaml names them `STACK-api` and `STACK-maintenance`."""
    return api_function.removesuffix("-api") + "-maintenance"


def dispatcher_function_name(api_function: str) -> str:
    """... and `STACK-dispatcher`."""
    return api_function.removesuffix("-api") + "-dispatcher"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_function(d: Deployment) -> Iterator[Check]:
    f = d.function
    settings = {"memory": f.get("MemorySize"), "architectures": f.get("Architectures"),
                "handler": f.get("Handler")}
    wanted = {"memory": 512, "architectures": ["arm64"], "handler": "main.handler"}
    wrong = {key: value for key, value in settings.items() if value != wanted[key]}
    timeout = f.get("Timeout") or 0
    if not 0 < timeout <= API_TIMEOUT_MAX:
        wrong["timeout"] = f"{timeout} s (at most {API_TIMEOUT_MAX} s, under the HTTP API's 30 s)"
    summary = f", expected {wanted}: got {wrong}" if wrong else (
        f", 512 MB, {timeout} s, arm64, main.handler")
    yield Check("lambda settings", not wrong and str(f.get("Runtime", "")).startswith("python3"),
                f"runtime {f.get('Runtime')}{summary}")
    missing = REQUIRED_ENV - set(d.env)
    problems = [f"missing {sorted(missing)}"] if missing else []
    if "DB_SECRET_ARN" not in d.env:
        problems.append("no DB_SECRET_ARN: the password would be plain text")
    if "DB_PASS" in d.env:
        problems.append("DB_PASS set in plain text")
    if "AWS_REGION" in d.env:
        problems.append("AWS_REGION is reserved by Lambda")
    yield Check("environment", not problems, "; ".join(problems) or "all variables present")
    subnets = f.get("VpcConfig", {}).get("SubnetIds", [])
    vpcs = {subnet["VpcId"] for subnet in d.client("ec2").describe_subnets(
        SubnetIds=subnets)["Subnets"]} if subnets else set()
    database_vpc = d.database_sg.get("VpcId")
    yield Check("vpc", vpcs == {database_vpc},
                f"function subnets in {sorted(vpcs)}, database group in {database_vpc}")


def check_security_groups(d: Deployment) -> Iterator[Check]:
    egress = d.lambda_sg.get("IpPermissionsEgress", [])
    to_database = any(rule.get("FromPort") == 5432 and rule.get("UserIdGroupPairs")
                      for rule in egress)
    https = any(rule.get("FromPort") == 443 and {"CidrIp": "0.0.0.0/0"} in [
        {"CidrIp": r["CidrIp"]} for r in rule.get("IpRanges", [])] for rule in egress)
    wider = [rule for rule in egress if rule.get("IpProtocol") == "-1"
             or (rule.get("FromPort") not in (443, 5432))]
    yield Check("lambda security group", to_database and https and not wider,
                f"5432 to database group: {to_database}, 443 to 0.0.0.0/0: {https}, "
                f"other rules: {len(wider)}")
    ingress = d.database_sg.get("IpPermissions", [])
    lambda_id = d.lambda_sg.get("GroupId")
    sources = [(rule.get("FromPort"), pair["GroupId"]) for rule in ingress
               for pair in rule.get("UserIdGroupPairs", [])]
    open_ranges = [r for rule in ingress for r in rule.get("IpRanges", []) + rule.get(
        "Ipv6Ranges", [])]
    # The group the function's 5432 egress names: the instance's, or RDS Proxy's when enabled
    # (the proxy has a group of its own); either takes 5432 from the function only.
    only_lambda = (5432, lambda_id) in sources and not open_ranges and all(
        port == 5432 and group == lambda_id for port, group in sources)
    yield Check("database security group", only_lambda,
                f"5432 from {sorted(group for _, group in sources)}, "
                f"address ranges: {[r.get('CidrIp') or r.get('CidrIpv6') for r in open_ranges]}")


def check_role(d: Deployment) -> Iterator[Check]:
    statements = d.role_statements()
    actions = {action: _listed(s["Resource"]) for s in statements if s.get("Effect") == "Allow"
               for action in _listed(s["Action"])}
    yield Check("role: logs", {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(actions),
                "CreateLogStream and PutLogEvents")
    yield Check("role: vpc access", set(actions) >= VPC_ACTIONS, "the five ec2 actions")
    bucket = re.escape(d.env.get("S3_BUCKET", "?"))
    # The bucket, bucket/* or bucket/prefix/* (the template grants private/* and uploads/*).
    allowed = re.compile(rf"arn:aws[a-z-]*:s3:::{bucket}(/[^*]+/\*|/\*)?")
    s3 = {action: resources for action, resources in actions.items() if action.startswith("s3:")}
    too_wide = {action: r for action, r in s3.items()
                if not all(allowed.fullmatch(str(arn)) for arn in r) or "*" in action}
    yield Check("role: s3 scoped to the bucket", set(s3) >= S3_ACTIONS and not too_wide,
                f"missing {sorted(S3_ACTIONS - set(s3))}, too wide {too_wide}")


def check_bucket(d: Deployment) -> Iterator[Check]:
    s3, bucket = d.client("s3"), d.env.get("S3_BUCKET", "")
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    origins = {origin for rule in rules for origin in rule["AllowedOrigins"]}
    wanted = {origin.strip() for origin in d.env.get("CORS_ORIGINS", "").split(",") if origin}
    methods = {method for rule in rules for method in rule["AllowedMethods"]}
    yield Check("bucket cors", origins == wanted and {"GET", "PUT"} <= methods,
                f"origins {sorted(origins)} (CORS_ORIGINS {sorted(wanted)}), methods "
                f"{sorted(methods)}")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    yield Check("bucket public access", all(block.values()), f"{block}")
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    yield Check("bucket encryption", bool(encryption["Rules"]), "server-side encryption on")
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    aborts = any("AbortIncompleteMultipartUpload" in rule for rule in lifecycle)
    yield Check("bucket lifecycle", aborts, "aborts incomplete multipart uploads")


def check_api(d: Deployment) -> Iterator[Check]:
    gateway, arn = d.client("apigatewayv2"), d.function["FunctionArn"]
    for api in gateway.get_apis()["Items"]:
        integrations = gateway.get_integrations(ApiId=api["ApiId"])["Items"]
        if any(d.function["FunctionName"] in item.get("IntegrationUri", "") or arn in item.get(
                "IntegrationUri", "") for item in integrations):
            routes = {route["RouteKey"] for route in gateway.get_routes(ApiId=api["ApiId"])[
                "Items"]}
            stages = {stage["StageName"] for stage in gateway.get_stages(ApiId=api["ApiId"])[
                "Items"]}
            ok = {"ANY /{proxy+}", "GET /health"} <= routes and "$default" in stages
            yield Check("api routes", ok, f"routes {sorted(routes)}, stages {sorted(stages)}")
            return
    yield Check("api routes", False, "no HTTP API integrates this function")


def check_monitoring(d: Deployment) -> Iterator[Check]:
    alarms = d.client("cloudwatch").describe_alarms()["MetricAlarms"]

    def metrics_of(alarm: dict[str, Any]) -> set[str]:
        names = {alarm.get("MetricName")}
        names |= {m["MetricStat"]["Metric"]["MetricName"] for m in alarm.get("Metrics", [])
                  if "MetricStat" in m}
        return {name for name in names if name}

    def alarm(name: str, test: Callable[[dict[str, Any]], bool], detail: str) -> Check:
        return Check(name, any(test(a) for a in alarms), detail)

    yield alarm("alarm: lambda error rate", lambda a: {"Errors", "Invocations"} <= metrics_of(a)
                and a["Threshold"] == 1, "errors > 1% of invocations")
    yield alarm("alarm: lambda duration p95", lambda a: metrics_of(a) == {"Duration"}
                and a.get("ExtendedStatistic") == "p95" and a["Threshold"] == 10000, "> 10 s")
    yield alarm("alarm: rds cpu", lambda a: metrics_of(a) == {"CPUUtilization"}
                and a["Threshold"] == 80, "> 80%")
    yield alarm("alarm: rds free storage", lambda a: "FreeStorageSpace" in metrics_of(a)
                and a["Threshold"] == 20, "< 20% of allocated")
    yield alarm("alarm: api 5xx", lambda a: "5xx" in metrics_of(a),
                "HTTP API 5xx (the app's own 500s, which Lambda Errors does not count)")
    yield alarm("alarm: lambda throttles", lambda a: metrics_of(a) == {"Throttles"},
                "throttles of the API function")
    yield alarm("alarm: rds connections", lambda a: "DatabaseConnections" in metrics_of(a),
                "connections against the connection budget")
    group = d.function.get("LoggingConfig", {}).get("LogGroup") or (
        f"/aws/lambda/{d.function['FunctionName']}")
    found = d.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    retention = next((g.get("retentionInDays") for g in found if g["logGroupName"] == group), None)
    yield Check("log retention", retention is not None, f"{group}: {retention} days")


def _arns_with_aliases(lambda_: Any, function: dict[str, Any]) -> list[str]:
    """The function's ARN and its aliases': a rule may target any of them, and EventBridge
    looks targets up by the exact ARN."""
    arn = function["FunctionArn"]
    unqualified = arn if arn.count(":") == 6 else arn.rsplit(":", 1)[0]
    aliases = lambda_.list_aliases(FunctionName=function["FunctionName"]).get("Aliases", [])
    return [unqualified, *(alias["AliasArn"] for alias in aliases)]


def check_maintenance(d: Deployment) -> Iterator[Check]:
    """Maintenance and migrations run in a function of their own (long timeout, no retries);
    the schedule targets it (or, in a deployment without one, the API function or its alias)."""
    lambda_, events = d.client("lambda"), d.client("events")
    try:
        maintenance: dict[str, Any] | None = lambda_.get_function_configuration(
            FunctionName=d.maintenance_name)
    except lambda_.exceptions.ResourceNotFoundException:
        maintenance = None
    if maintenance is None:
        yield Check("maintenance function", False,
                    f"no {d.maintenance_name}: maintenance and migrations would share the API's "
                    f"{d.function.get('Timeout')} s timeout and be retried")
        targets = _arns_with_aliases(lambda_, d.function)
    else:
        timeout = maintenance.get("Timeout", 0)
        try:
            retries = lambda_.get_function_event_invoke_config(
                FunctionName=d.maintenance_name).get("MaximumRetryAttempts")
        except lambda_.exceptions.ResourceNotFoundException:
            retries = None  # Lambda's default: two retries
        same_network = maintenance.get("VpcConfig", {}).get("SecurityGroupIds") == \
            d.function.get("VpcConfig", {}).get("SecurityGroupIds")
        yield Check("maintenance function",
                    timeout in MAINTENANCE_TIMEOUT and retries == 0 and same_network,
                    f"{d.maintenance_name}: timeout {timeout} s (300-900), async retries "
                    f"{2 if retries is None else retries} (0), same security groups as the API: "
                    f"{same_network}")
        targets = _arns_with_aliases(lambda_, maintenance) + _arns_with_aliases(lambda_,
                                                                                  d.function)
    found = {arn: events.list_rule_names_by_target(TargetArn=arn)["RuleNames"] for arn in targets}
    rules = {arn: names for arn, names in found.items() if names}
    yield Check("maintenance schedule", bool(rules),
                f"rules {rules}" if rules else f"no rule targets {targets}")


def check_events(d: Deployment) -> Iterator[Check]:
    """Events on AWS (docs/events.md): the API nudges a queue with a dead-letter queue; the
    dispatcher (main.dispatch) consumes it, reporting batch item failures; a schedule sweeps;
    the bucket notifies the queue of single PUTs under both object prefixes."""
    lambda_, sqs, s3 = d.client("lambda"), d.client("sqs"), d.client("s3")
    queue_url = d.env.get("EVENTS_QUEUE_URL")
    if not queue_url:
        yield Check("events queue", False, "no EVENTS_QUEUE_URL: nothing nudges a dispatcher")
        return
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "QueueArn", "RedrivePolicy"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
    yield Check("events queue", bool(redrive.get("deadLetterTargetArn")),
                f"{queue_arn}: dead-letter queue {redrive.get('deadLetterTargetArn')} after "
                f"{redrive.get('maxReceiveCount')} receives")
    name = dispatcher_function_name(d.function["FunctionName"])
    mappings = lambda_.list_event_source_mappings(EventSourceArn=queue_arn).get(
        "EventSourceMappings", [])
    consumers = {mapping["FunctionArn"].split(":")[6]: mapping for mapping in mappings}
    try:
        dispatcher: dict[str, Any] | None = lambda_.get_function_configuration(FunctionName=name)
    except lambda_.exceptions.ResourceNotFoundException:
        dispatcher = None
    mapping = consumers.get(name)
    reports = mapping is not None and "ReportBatchItemFailures" in mapping.get(
        "FunctionResponseTypes", [])
    yield Check("dispatcher function",
                dispatcher is not None and dispatcher.get("Handler") == "main.dispatch"
                and reports,
                f"{name}: handler {dispatcher and dispatcher.get('Handler')} (main.dispatch), "
                f"fed by the queue with batch item failures: {reports}")
    if dispatcher is not None:
        rules = d.client("events").list_rule_names_by_target(
            TargetArn=dispatcher["FunctionArn"])["RuleNames"]
        yield Check("dispatcher sweep", bool(rules),
                    f"rules {rules}" if rules else "no schedule sweeps for lost nudges")
    bucket = d.env.get("S3_BUCKET", "")
    notified = s3.get_bucket_notification_configuration(Bucket=bucket).get(
        "QueueConfigurations", [])
    prefixes = {rule["Value"] for configuration in notified
                if configuration["QueueArn"] == queue_arn
                and any(event in ("s3:ObjectCreated:Put", "s3:ObjectCreated:*")
                        for event in configuration["Events"])
                for rule in configuration.get("Filter", {}).get("Key", {}).get(
                    "FilterRules", [])
                if rule["Name"].lower() == "prefix"}
    yield Check("bucket notifications", {"private/", "uploads/"} <= prefixes,
                f"ObjectCreated:Put to the queue under {sorted(prefixes)} "
                "(private/ and uploads/)")


def run(function_name: str, region: str | None = None,
        endpoint_url: str | None = None, maintenance_function: str | None = None) -> list[Check]:
    """Every check, in checklist order; a check that cannot be read fails with the reason.
    `maintenance_function` defaults to the template's name for it (STACK-maintenance)."""
    import boto3

    session = boto3.session.Session(region_name=region)
    deployment = Deployment(function_name,
                            lambda service: session.client(service, endpoint_url=endpoint_url),
                            maintenance_function)
    results: list[Check] = []
    for section in (check_security_groups, check_role, check_function, check_bucket, check_api,
                    check_monitoring, check_maintenance, check_events):
        try:
            results += list(section(deployment))
        except Exception as exc:  # noqa: BLE001 - a section we cannot read is a failed check
            results.append(Check(section.__name__.removeprefix("check_"), False,
                                 f"could not read: {type(exc).__name__}: {exc}"))
    return results
