"""deploy/template.yaml, item by item of the deployment checklist: a regression in any fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudnexus.previews.variants import DERIVED_PREFIX
from cloudnexus.storage.base import PENDING_STATE, STATE_TAG
from cloudnexus.storage.keys import PRIVATE_PREFIX, PUBLIC_PREFIX
from cloudnexus.uploads.service import MULTIPART_LIFETIME

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
TAGS = ["Ref", "Sub", "GetAtt", "If", "Equals", "Select", "Split", "Join", "Not", "And", "Or",
        "Condition", "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr", "EachMemberEquals"]


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref X → {"Ref": "X"})."""


def _tag(name: str) -> Any:
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _name in TAGS:
    CloudFormationLoader.add_constructor(f"!{_name}", _tag(_name))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]  # type: ignore[no-any-return]


def shared(template: dict[str, Any]) -> dict[str, Any]:
    """SAM Globals: what both functions get."""
    return template["Globals"]["Function"]  # type: ignore[no-any-return]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for policy in role["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]]


# 1. Security groups
def test_lambda_sg_allows_out_5432_to_the_rds_sg_and_443_to_anywhere(template: Any) -> None:
    lambda_sg = resource(template, "LambdaSecurityGroup")
    assert lambda_sg["SecurityGroupEgress"] == [{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
        "Description": "HTTPS to S3, Secrets Manager and other AWS APIs"}]
    egress = resource(template, "LambdaToDatabaseEgress")
    assert (egress["GroupId"], egress["FromPort"], egress["ToPort"], egress["IpProtocol"]) == (
        {"Ref": "LambdaSecurityGroup"}, 5432, 5432, "tcp")
    assert egress["DestinationSecurityGroupId"] == {"Fn::If": [
        "UseProxy", {"Ref": "ProxySecurityGroup"}, {"Ref": "DatabaseSecurityGroup"}]}


def test_rds_sg_allows_in_5432_from_the_lambda_sg_or_the_proxy_only(template: Any) -> None:
    resources = template["Resources"]
    to_database = {name: body for name, body in resources.items()
                   if body["Type"] == "AWS::EC2::SecurityGroupIngress"
                   and body["Properties"]["GroupId"] == {"Ref": "DatabaseSecurityGroup"}}
    assert {name: (body.get("Condition"), body["Properties"]["SourceSecurityGroupId"],
                   body["Properties"]["FromPort"], body["Properties"]["ToPort"])
            for name, body in to_database.items()} == {
        "DatabaseFromLambdaIngress": ("NoProxy", {"Ref": "LambdaSecurityGroup"}, 5432, 5432),
        "DatabaseFromProxyIngress": ("UseProxy", {"Ref": "ProxySecurityGroup"}, 5432, 5432)}
    assert "SecurityGroupIngress" not in resource(template, "DatabaseSecurityGroup")


def test_the_proxy_has_a_group_that_can_reach_the_database(template: Any) -> None:
    """In the database's group (egress 127.0.0.1/32 only) the proxy could not open a
    connection to the instance."""
    assert template["Resources"]["ProxySecurityGroup"]["Condition"] == "UseProxy"
    proxy_sg = resource(template, "ProxySecurityGroup")
    assert proxy_sg["SecurityGroupIngress"] == [{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "SourceSecurityGroupId": {"Ref": "LambdaSecurityGroup"},
        "Description": "PostgreSQL from the CloudNexus Lambda"}]
    to_database = [rule for rule in proxy_sg["SecurityGroupEgress"]
                   if rule.get("DestinationSecurityGroupId") == {"Ref": "DatabaseSecurityGroup"}]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in to_database] == [(5432, 5432)]
    assert resource(template, "DatabaseProxy")["VpcSecurityGroupIds"] == [
        {"Ref": "ProxySecurityGroup"}]
    pool = resource(template, "DatabaseProxyTargets")["ConnectionPoolConfigurationInfo"]
    assert pool["MaxConnectionsPercent"] < 80  # under the DatabaseConnections alarm


def test_lambda_runs_in_the_vpc_and_subnets_of_the_database(template: Any) -> None:
    assert template["Parameters"]["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert shared(template)["VpcConfig"] == {"SecurityGroupIds": [{"Ref": "LambdaSecurityGroup"}],
                                             "SubnetIds": {"Ref": "SubnetIds"}}
    for function in ("ApiFunction", "MaintenanceFunction"):
        assert "VpcConfig" not in resource(template, function)  # the shared one applies
    assert resource(template, "DatabaseSubnetGroup")["SubnetIds"] == {"Ref": "SubnetIds"}
    for group in ("LambdaSecurityGroup", "DatabaseSecurityGroup"):
        assert resource(template, group)["VpcId"] == {"Ref": "VpcId"}


def test_private_subnets_reach_s3_and_secrets_manager_through_endpoints(template: Any) -> None:
    """Egress 443 only and no NAT: without endpoints every S3 and Secrets Manager call hangs."""
    resources = template["Resources"]
    assert template["Parameters"]["CreateVpcEndpoints"]["Default"] == "true"
    s3, secrets = resource(template, "S3Endpoint"), resource(template, "SecretsManagerEndpoint")
    for name in ("S3Endpoint", "SecretsManagerEndpoint", "VpcEndpointSecurityGroup"):
        assert resources[name]["Condition"] == "UseVpcEndpoints"
    assert (s3["VpcEndpointType"], s3["ServiceName"], s3["RouteTableIds"]) == (
        "Gateway", {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}, {"Ref": "RouteTableIds"})
    assert (secrets["VpcEndpointType"], secrets["PrivateDnsEnabled"]) == ("Interface", True)
    assert secrets["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.secretsmanager"}
    assert secrets["SubnetIds"] == {"Ref": "SubnetIds"}
    assert secrets["SecurityGroupIds"] == [{"Ref": "VpcEndpointSecurityGroup"}]
    endpoint_sg = resource(template, "VpcEndpointSecurityGroup")
    assert endpoint_sg["SecurityGroupIngress"] == [{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "SourceSecurityGroupId": {"Ref": "LambdaSecurityGroup"},
        "Description": "HTTPS from the CloudNexus Lambda"}]
    assert resources["VpcEndpointFromProxyIngress"]["Condition"] == "UseProxyAndVpcEndpoints"
    rule = template["Rules"]["VpcEndpointsNeedRouteTables"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::EachMemberEquals": [
        {"Ref": "RouteTableIds"}, ""]}]}


# 2. IAM execution role
def test_role_has_logs_vpc_access_and_s3_scoped_to_the_bucket(template: Any) -> None:
    by_action = _granted("FunctionRole", template)
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(by_action)
    vpc = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
           "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
           "ec2:UnassignPrivateIpAddresses"}
    assert vpc <= set(by_action)
    objects = [{"Fn::Sub": f"${{FilesBucket.Arn}}/{prefix}*"}
               for prefix in (PRIVATE_PREFIX, PUBLIC_PREFIX)]  # the only prefixes files take
    previews = {"Fn::Sub": f"${{FilesBucket.Arn}}/{DERIVED_PREFIX}*"}
    for action in ("s3:PutObjectTagging", "s3:AbortMultipartUpload",
                   "s3:ListMultipartUploadParts"):
        assert by_action[action] == objects
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
        assert by_action[action] == [*objects, previews]
    for action in ("s3:ListBucket", "s3:ListBucketMultipartUploads"):
        assert by_action[action] == {"Fn::GetAtt": ["FilesBucket", "Arn"]}
    assert by_action["secretsmanager:GetSecretValue"] == {"Ref": "AppDatabaseSecret"}
    assert by_action["logs:PutLogEvents"] == [{"Fn::Sub": "${FunctionLogGroup.Arn}:*"},
                                              {"Fn::Sub": "${MaintenanceLogGroup.Arn}:*"}]
    wildcard = {action for action, target in by_action.items() if target == "*"}
    assert wildcard == vpc  # nothing else on "*"
    assert not any(action.endswith("*") for action in by_action)


# 3. Environment
def test_environment_has_the_checklist_variables_and_no_plain_password(template: Any) -> None:
    variables = shared(template)["Environment"]["Variables"]
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SECRET_ARN", "S3_BUCKET",
            "LOG_LEVEL", "CORS_ORIGINS"} <= set(variables)
    assert "DB_PASS" not in variables and "AWS_REGION" not in variables
    assert variables["DB_SECRET_ARN"] == {"Ref": "AppDatabaseSecret"}
    assert variables["DB_NAME"] == "cloudnexus" and variables["DB_PORT"] == "5432"
    assert variables["CORS_ORIGINS"] == {"Fn::Join": [",", {"Ref": "CorsOrigins"}]}
    assert variables["DB_HOST"]["Fn::If"][0] == "UseProxy"
    # DOCS_ENABLED=false would drop /openapi.json, a public route of the contract (API.md).
    assert variables.get("DOCS_ENABLED", "true") == "true"
    assert variables["PGSSLMODE"] == {"Ref": "DBSslMode"}
    assert template["Parameters"]["DBSslMode"]["Default"] == "require"
    # Public buckets only where S3 serves them: the public-read statement comes with the same.
    assert variables["PUBLIC_BUCKETS"] == {"Ref": "PublicUploads"}
    for function in ("ApiFunction", "MaintenanceFunction"):
        assert "Environment" not in resource(template, function)  # the shared one applies


# 4. Lambda settings
def test_function_settings(template: Any) -> None:
    function, common = resource(template, "ApiFunction"), shared(template)
    assert (function["MemorySize"], common["Handler"]) == (512, "main.handler")
    assert function["Timeout"] <= 28  # under the HTTP API's 30 s integration timeout
    assert resource(template, "HttpApiIntegration")["TimeoutInMillis"] == 30000
    assert common["Architectures"] == ["arm64"]
    assert common["Runtime"] == {"Ref": "Runtime"}
    runtime = template["Parameters"]["Runtime"]
    # python3.11 is Amazon Linux 2 (glibc 2.26): the aarch64 psycopg-binary needs 2.28.
    assert runtime["AllowedValues"] == ["python3.12", "python3.13", "python3.14"]
    assert function["ProvisionedConcurrencyConfig"]["Fn::If"][0] == "UseProvisioned"
    assert function["SnapStart"]["Fn::If"][0] == "UseSnapStart"
    rule = template["Rules"]["SnapStartWithoutProvisionedConcurrency"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "EnableSnapStart"}, "true"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [
        {"Ref": "ProvisionedConcurrency"}, "0"]}
    for name in ("ApiFunction", "MaintenanceFunction"):
        assert resource(template, name)["CodeUri"] == "../dist/deployment.zip"
        assert resource(template, name)["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}


def test_reserved_concurrency_caps_the_connections(template: Any) -> None:
    """containers x 2 connections (ORM + event loop, DB_POOL_SIZE=1) + maintenance + a reserve
    stay under max_connections of the default instance class."""
    parameters = template["Parameters"]
    reserved, max_connections = (parameters["ReservedConcurrency"]["Default"],
                                 parameters["DBMaxConnections"]["Default"])
    assert parameters["DBInstanceClass"]["Default"] == "db.t4g.micro"
    assert shared(template)["Environment"]["Variables"]["DB_POOL_SIZE"] == "1"
    # A proxy in between would pin every connection that prepared a statement.
    assert shared(template)["Environment"]["Variables"]["DB_PREPARED_STATEMENTS"] == {
        "Fn::If": ["UseProxy", "false", "true"]}
    dispatcher = _reserved(template, "DispatcherFunction")
    assert 2 * reserved + 2 * 2 + 2 * dispatcher + 10 <= max_connections
    assert resource(template, "ApiFunction")["ReservedConcurrentExecutions"] == {"Fn::If": [
        "UseReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert resource(template, "MaintenanceFunction")["ReservedConcurrentExecutions"] == {
        "Fn::If": ["UseReservedConcurrency", 2, {"Ref": "AWS::NoValue"}]}
    skips = {skip["id"] for skip in template["Resources"]["ApiFunction"]["Metadata"][
        "checkov"]["skip"]}
    assert "CKV_AWS_115" not in skips


def test_parameter_only_changes_publish_a_version(template: Any) -> None:
    """SAM hashes the environment with its parameter references unresolved; deploy.sh passes
    a hash of the zip, the template and the parameters as VersionHash instead."""
    function = resource(template, "ApiFunction")
    assert function["AutoPublishAlias"] == "live"
    assert function["AutoPublishCodeSha256"] == {"Ref": "VersionHash"}
    script = (TEMPLATE.parent / "deploy.sh").read_text()
    assert 'VersionHash="$VERSION_HASH"' in script
    assert "sha256sum dist/deployment.zip deploy/template.yaml" in script
    assert 'printf \'%s\\n\' "${PARAMETERS[@]}"' in script


def test_maintenance_and_migrations_have_a_function_of_their_own(template: Any) -> None:
    function = resource(template, "MaintenanceFunction")
    assert 300 <= function["Timeout"] <= 900
    assert function["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert "AutoPublishAlias" not in function  # the schedule and migrate run the code deployed
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-maintenance"}
    assert resource(template, "ApiFunction")["FunctionName"] == {
        "Fn::Sub": "${AWS::StackName}-api"}  # aws_verify finds one from the other
    assert resource(template, "MaintenanceRule")["Targets"] == [
        {"Id": "maintenance", "Arn": {"Fn::GetAtt": ["MaintenanceFunction", "Arn"]}}]
    permission = resource(template, "MaintenanceInvokePermission")
    assert permission["FunctionName"] == {"Ref": "MaintenanceFunction"}
    assert 'deploy/migrate.sh "$STACK"' in (TEMPLATE.parent / "deploy.sh").read_text()
    migrate = (TEMPLATE.parent / "migrate.sh").read_text()
    assert '--function-name "$STACK-maintenance"' in migrate
    read_timeout = int(migrate.split("--cli-read-timeout ")[1].split()[0])
    assert read_timeout > function["Timeout"]  # the CLI waits for the whole run, no retry


# 5. RDS
def test_database_settings(template: Any) -> None:
    database = resource(template, "Database")
    assert database["Engine"] == "postgres" and database["DBName"] == "cloudnexus"
    assert database["StorageEncrypted"] is True and database["PubliclyAccessible"] is False
    assert database["MultiAZ"] == {"Ref": "MultiAZ"}
    assert template["Parameters"]["MultiAZ"]["Default"] == "true"
    assert database["ManageMasterUserPassword"] is True and "MasterUserPassword" not in database
    assert template["Resources"]["DatabaseProxy"]["Condition"] == "UseProxy"
    proxy = resource(template, "DatabaseProxy")
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True


def test_bootstrap_sql_has_the_checklist_steps_and_no_password(template: Any) -> None:
    sql = (TEMPLATE.parent / "bootstrap.sql").read_text()
    for step in ("CREATE DATABASE", "CREATE ROLE", "GRANT CONNECT", "ALTER DEFAULT PRIVILEGES",
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES"):
        assert step in sql
    assert ":'app_password'" in sql and "PASSWORD '" not in sql


# 6. S3
def test_bucket_cors_public_access_encryption_lifecycle(template: Any) -> None:
    bucket = resource(template, "FilesBucket")
    rule = bucket["CorsConfiguration"]["CorsRules"][0]
    assert rule["AllowedOrigins"] == {"Ref": "CorsOrigins"}  # the same setting as CORS_ORIGINS
    assert {"GET", "PUT", "HEAD"} <= set(rule["AllowedMethods"])
    assert "ETag" in rule["ExposedHeaders"]
    block = bucket["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] is True and block["IgnorePublicAcls"] is True
    for setting in ("BlockPublicPolicy", "RestrictPublicBuckets"):
        assert block[setting] == {"Fn::If": ["UsePublicUploads", False, True]}
    assert template["Parameters"]["PublicUploads"]["Default"] == "false"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    lifecycle = bucket["LifecycleConfiguration"]["Rules"][0]
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1


def test_unchecked_upload_objects_expire_and_are_never_public(template: Any) -> None:
    """The tag a presigned write sets (storage/base.py) is the one the lifecycle rule expires
    and the public-read statement excludes; an upload lives 24 h, the rule waits longer."""
    rules = resource(template, "FilesBucket")["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "TagFilters" in rule]
    assert [rule["TagFilters"] for rule in expiring] == [[{"Key": STATE_TAG,
                                                           "Value": PENDING_STATE}]]
    assert expiring[0]["ExpirationInDays"] * 24 > MULTIPART_LIFETIME.total_seconds() / 3600
    assert "Prefix" not in expiring[0]  # every prefix: private/ as well as uploads/
    public = resource(template, "FilesBucketPolicy")["PolicyDocument"]["Statement"][1][
        "Fn::If"][1]
    assert public["Condition"] == {
        "StringNotEquals": {f"s3:ExistingObjectTag/{STATE_TAG}": PENDING_STATE}}


def test_public_read_is_only_uploads_and_only_behind_the_parameter(template: Any) -> None:
    policy = resource(template, "FilesBucketPolicy")["PolicyDocument"]["Statement"]
    deny_http = policy[0]
    assert deny_http["Effect"] == "Deny"
    assert deny_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    condition, public, otherwise = policy[1]["Fn::If"]
    assert condition == "UsePublicUploads" and otherwise == {"Ref": "AWS::NoValue"}
    assert public["Action"] == "s3:GetObject"
    assert public["Resource"] == {"Fn::Sub": "${FilesBucket.Arn}/uploads/*"}


# 7. API Gateway
def test_http_api_routes_cors_and_default_stage(template: Any) -> None:
    routes = {body["Properties"]["RouteKey"] for body in template["Resources"].values()
              if body["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == {"ANY /{proxy+}", "GET /health"}
    api = resource(template, "HttpApi")
    assert api["ProtocolType"] == "HTTP"
    assert api["CorsConfiguration"]["AllowOrigins"] == {"Ref": "CorsOrigins"}
    assert resource(template, "DefaultStage")["StageName"] == "$default"
    assert resource(template, "HttpApiIntegration")["PayloadFormatVersion"] == "2.0"
    assert template["Resources"]["ApiDomain"]["Condition"] == "UseDomain"
    exposed = api["CorsConfiguration"]["ExposeHeaders"]
    assert {"etag", "x-request-id", "retry-after", "idempotent-replayed"} <= set(exposed)


def test_cloudnexus_js_from_a_browser_passes_both_cors_rules(template: Any) -> None:
    """What cloudnexus.js sends cross-origin is allowed: its headers by the HTTP API's CORS,
    its part PUTs by the bucket's, which exposes the ETag that completing the upload needs."""
    script = (TEMPLATE.parents[1] / "clients" / "js" / "cloudnexus.js").read_text()
    sent = {"Authorization", "Content-Type", "Idempotency-Key", "If-Match"}
    assert all(f'"{header}"' in script or f"{header}:" in script for header in sent)
    api = resource(template, "HttpApi")["CorsConfiguration"]
    assert {header.lower() for header in sent} <= set(api["AllowHeaders"])
    assert {"GET", "POST", "PATCH", "DELETE"} <= set(api["AllowMethods"])
    assert 'getResponseHeader(name)' in script and 'answer.header("ETag")' in script
    bucket = resource(template, "FilesBucket")["CorsConfiguration"]["CorsRules"][0]
    assert "PUT" in bucket["AllowedMethods"] and bucket["AllowedHeaders"] == ["*"]
    assert "ETag" in bucket["ExposedHeaders"]


# 8. Monitoring
def test_alarms_and_thresholds(template: Any) -> None:
    errors = resource(template, "LambdaErrorRateAlarm")
    expression = next(metric for metric in errors["Metrics"] if "Expression" in metric)
    assert "100 * errors / invocations" in expression["Expression"]
    assert (errors["Threshold"], errors["ComparisonOperator"]) == (1, "GreaterThanThreshold")
    duration = resource(template, "LambdaDurationAlarm")
    assert (duration["ExtendedStatistic"], duration["Threshold"]) == ("p95", 10000)
    cpu = resource(template, "DatabaseCpuAlarm")
    assert (cpu["MetricName"], cpu["Threshold"], cpu["ComparisonOperator"]) == (
        "CPUUtilization", 80, "GreaterThanThreshold")
    storage = resource(template, "DatabaseFreeStorageAlarm")
    percent = next(metric for metric in storage["Metrics"] if "Expression" in metric)
    assert percent["Expression"] == {
        "Fn::Sub": "100 * free / (${DBAllocatedStorageGB} * 1073741824)"}
    assert (storage["Threshold"], storage["ComparisonOperator"]) == (20, "LessThanThreshold")
    gateway = resource(template, "Api5xxAlarm")
    server_errors = next(m for m in gateway["Metrics"] if m["Id"] == "server_errors")
    metric = server_errors["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/ApiGateway", "5xx")
    assert metric["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}},
                                    {"Name": "Stage", "Value": "$default"}]
    throttles = resource(template, "LambdaThrottlesAlarm")
    assert (throttles["MetricName"], throttles["Threshold"]) == ("Throttles", 0)
    connections = resource(template, "DatabaseConnectionsAlarm")
    percent = next(metric for metric in connections["Metrics"] if "Expression" in metric)
    assert percent["Expression"] == {"Fn::Sub": "100 * connections / ${DBMaxConnections}"}
    assert connections["Threshold"] == 80
    for name, body in template["Resources"].items():
        if body["Type"] == "AWS::CloudWatch::Alarm":
            assert body["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_alarm_topic_key_lets_cloudwatch_publish(template: Any) -> None:
    """CloudWatch cannot use the AWS-managed aws/sns key: alarms would never arrive."""
    assert resource(template, "AlarmTopic")["KmsMasterKeyId"] == {
        "Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    key = resource(template, "AlarmTopicKey")
    assert key["EnableKeyRotation"] is True
    cloudwatch = [statement for statement in key["KeyPolicy"]["Statement"]
                  if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_log_group_query_and_maintenance_schedule(template: Any) -> None:
    for group, function in (("FunctionLogGroup", "ApiFunction"),
                            ("MaintenanceLogGroup", "MaintenanceFunction")):
        assert resource(template, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert resource(template, function)["LoggingConfig"]["LogGroup"] == {"Ref": group}
    query = resource(template, "ErrorsQuery")
    assert "filter @message like /ERROR/" in query["QueryString"]
    schedule = resource(template, "MaintenanceRule")
    assert schedule["ScheduleExpression"] == {"Ref": "MaintenanceSchedule"}
    assert resource(template, "MaintenanceInvokePermission")["Principal"] == "events.amazonaws.com"


def _reserved(template: dict[str, Any], function: str) -> int:
    """A function's reserved concurrency, when ReservedConcurrency reserves any."""
    condition, reserved, otherwise = resource(template, function)[
        "ReservedConcurrentExecutions"]["Fn::If"]
    assert (condition, otherwise) == ("UseReservedConcurrency", {"Ref": "AWS::NoValue"})
    return int(reserved)


# 9. Events and webhooks on AWS: the queue, the dispatcher, the nudge, the sweep, S3's
# notifications (docs/events.md)
def _granted(role: str, template: dict[str, Any]) -> dict[str, Any]:
    """Each action the role is granted, and on what: one resource as written, or the list of
    those of every statement granting it."""
    granted: dict[str, Any] = {}
    for statement in statements(resource(template, role)):
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            if action not in granted:
                granted[action] = statement["Resource"]
                continue
            before = granted[action] if isinstance(granted[action], list) else [granted[action]]
            more = statement["Resource"]
            granted[action] = before + (more if isinstance(more, list) else [more])
    return granted


def test_the_events_queue_has_a_dead_letter_queue(template: Any) -> None:
    queue = resource(template, "EventsQueue")
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] >= 6 * resource(template, "DispatcherFunction")["Timeout"]
    for name in ("EventsQueue", "EventsDeadLetterQueue"):
        assert resource(template, name)["SqsManagedSseEnabled"] is True
    alarm = resource(template, "EventsDeadLetterAlarm")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {
        "Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}]
    assert (alarm["Threshold"], alarm["AlarmActions"]) == (0, [{"Ref": "AlarmTopic"}])


def test_the_dispatcher_is_the_same_package_with_its_own_handler(template: Any) -> None:
    import ast

    function = resource(template, "DispatcherFunction")
    module, name = function["Handler"].split(".")
    source = ast.parse((TEMPLATE.parents[1] / f"{module}.py").read_text())
    assert name in {node.name for node in source.body if isinstance(node, ast.FunctionDef)}
    assert function["CodeUri"] == resource(template, "ApiFunction")["CodeUri"]
    assert function["Role"] == {"Fn::GetAtt": ["DispatcherRole", "Arn"]}
    assert "Environment" not in function  # the shared one, EVENTS_QUEUE_URL with it
    assert shared(template)["Environment"]["Variables"]["EVENTS_QUEUE_URL"] == {
        "Ref": "EventsQueue"}
    # The Globals' security group (SAM appends lists: naming it again would repeat it).
    assert "SecurityGroupIds" not in function["VpcConfig"]
    assert shared(template)["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "LambdaSecurityGroup"}]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "DispatcherLogGroup"}
    mapping = resource(template, "DispatcherQueueMapping")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert mapping["FunctionName"] == {"Ref": "DispatcherFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    # Room for the sweep beside the queue's invocations.
    assert mapping["ScalingConfig"]["MaximumConcurrency"] < _reserved(
        template, "DispatcherFunction")
    sweep = resource(template, "DispatchSweepRule")
    assert sweep["ScheduleExpression"] == {"Ref": "DispatchSweepSchedule"}
    assert sweep["Targets"] == [{"Id": "sweep",
                                 "Arn": {"Fn::GetAtt": ["DispatcherFunction", "Arn"]}}]
    permission = resource(template, "DispatchSweepInvokePermission")
    assert (permission["FunctionName"], permission["SourceArn"]) == (
        {"Ref": "DispatcherFunction"}, {"Fn::GetAtt": ["DispatchSweepRule", "Arn"]})


def test_each_function_may_do_only_its_part_with_the_queue(template: Any) -> None:
    queue = {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    api = _granted("FunctionRole", template)
    assert {action: target for action, target in api.items()
            if action.startswith("sqs:")} == {"sqs:SendMessage": queue}
    dispatcher = _granted("DispatcherRole", template)
    assert {action: target for action, target in dispatcher.items()
            if action.startswith("sqs:")} == {
        "sqs:ReceiveMessage": queue, "sqs:DeleteMessage": queue,
        "sqs:GetQueueAttributes": queue, "sqs:SendMessage": queue}
    assert dispatcher["logs:PutLogEvents"] == {"Fn::Sub": "${DispatcherLogGroup.Arn}:*"}
    assert dispatcher["secretsmanager:GetSecretValue"] == {"Ref": "AppDatabaseSecret"}
    objects = [{"Fn::Sub": f"${{FilesBucket.Arn}}/{prefix}*"}
               for prefix in (PRIVATE_PREFIX, PUBLIC_PREFIX)]
    assert {action for action, target in dispatcher.items() if target == objects} == {
        "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"}
    assert dispatcher["s3:DeleteObject"] == [
        *objects, {"Fn::Sub": f"${{FilesBucket.Arn}}/{DERIVED_PREFIX}*"}]
    assert "s3:AbortMultipartUpload" not in dispatcher  # single PUTs only
    wildcard = {action for action, target in dispatcher.items() if target == "*"}
    assert all(action.startswith("ec2:") for action in wildcard)
    assert not any(action.endswith("*") for action in dispatcher)


def test_s3_notifies_the_queue_of_single_puts_under_both_prefixes(template: Any) -> None:
    from cloudnexus.storage.keys import PRIVATE_PREFIX, PUBLIC_PREFIX

    bucket = template["Resources"]["FilesBucket"]
    assert bucket["DependsOn"] == "EventsQueuePolicy"
    configurations = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert {(c["Event"], c["Queue"]["Fn::GetAtt"][0],
             c["Filter"]["S3Key"]["Rules"][0]["Value"]) for c in configurations} == {
        ("s3:ObjectCreated:Put", "EventsQueue", PRIVATE_PREFIX),
        ("s3:ObjectCreated:Put", "EventsQueue", PUBLIC_PREFIX)}
    allowed = resource(template, "EventsQueuePolicy")["PolicyDocument"]["Statement"][0]
    assert allowed["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allowed["Action"] == "sqs:SendMessage"
    assert allowed["Condition"] == {"StringEquals": {"aws:SourceAccount": {
        "Ref": "AWS::AccountId"}}}


def test_the_private_subnets_reach_sqs_through_an_endpoint(template: Any) -> None:
    endpoint = template["Resources"]["SqsEndpoint"]
    assert endpoint["Condition"] == "UseVpcEndpoints"
    assert endpoint["Properties"]["ServiceName"] == {
        "Fn::Sub": "com.amazonaws.${AWS::Region}.sqs"}
    assert endpoint["Properties"]["PrivateDnsEnabled"] is True
