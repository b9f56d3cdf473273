"""deploy/template.yaml, item by item of the deployment checklist: a regression in any fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
TAGS = ["Ref", "Sub", "GetAtt", "If", "Equals", "Select", "Split", "Join", "Not", "And", "Or",
        "Condition", "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr"]


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
    assert egress["DestinationSecurityGroupId"] == {"Ref": "DatabaseSecurityGroup"}


def test_rds_sg_allows_in_5432_from_the_lambda_sg_only(template: Any) -> None:
    ingress_rules = [(name, body["Properties"]) for name, body in template["Resources"].items()
                     if body["Type"] == "AWS::EC2::SecurityGroupIngress"]
    to_database = [rule for name, rule in ingress_rules
                   if rule["GroupId"] == {"Ref": "DatabaseSecurityGroup"}]
    sources = {(rule["SourceSecurityGroupId"]["Ref"], rule["FromPort"], rule["ToPort"])
               for rule in to_database}
    assert ("LambdaSecurityGroup", 5432, 5432) in sources
    assert all("CidrIp" not in rule for rule in to_database)
    proxy_rule = template["Resources"]["DatabaseFromProxyIngress"]
    assert proxy_rule["Condition"] == "UseProxy"  # the proxy shares the database's group
    assert "SecurityGroupIngress" not in resource(template, "DatabaseSecurityGroup")


def test_lambda_runs_in_the_vpc_and_subnets_of_the_database(template: Any) -> None:
    assert template["Parameters"]["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    function = resource(template, "ApiFunction")
    assert function["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}
    assert resource(template, "DatabaseSubnetGroup")["SubnetIds"] == {"Ref": "SubnetIds"}
    for group in ("LambdaSecurityGroup", "DatabaseSecurityGroup"):
        assert resource(template, group)["VpcId"] == {"Ref": "VpcId"}


# 2. IAM execution role
def test_role_has_logs_vpc_access_and_s3_scoped_to_the_bucket(template: Any) -> None:
    granted = statements(resource(template, "FunctionRole"))
    by_action = {action: statement["Resource"] for statement in granted
                 for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                                else statement["Action"])}
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(by_action)
    vpc = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
           "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
           "ec2:UnassignPrivateIpAddresses"}
    assert vpc <= set(by_action)
    objects = {"Fn::Sub": "${FilesBucket.Arn}/*"}
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                   "s3:ListMultipartUploadParts"):
        assert by_action[action] == objects
    for action in ("s3:ListBucket", "s3:ListBucketMultipartUploads"):
        assert by_action[action] == {"Fn::GetAtt": ["FilesBucket", "Arn"]}
    assert by_action["secretsmanager:GetSecretValue"] == {"Ref": "AppDatabaseSecret"}
    wildcard = {action for action, target in by_action.items() if target == "*"}
    assert wildcard == vpc  # nothing else on "*"
    assert not any(action.endswith("*") for action in by_action)


# 3. Environment
def test_environment_has_the_checklist_variables_and_no_plain_password(template: Any) -> None:
    variables = resource(template, "ApiFunction")["Environment"]["Variables"]
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SECRET_ARN", "S3_BUCKET",
            "LOG_LEVEL", "CORS_ORIGINS"} <= set(variables)
    assert "DB_PASS" not in variables and "AWS_REGION" not in variables
    assert variables["DB_SECRET_ARN"] == {"Ref": "AppDatabaseSecret"}
    assert variables["DB_NAME"] == "cloudnexus" and variables["DB_PORT"] == "5432"
    assert variables["CORS_ORIGINS"] == {"Fn::Join": [",", {"Ref": "CorsOrigins"}]}
    assert variables["DB_HOST"]["Fn::If"][0] == "UseProxy"


# 4. Lambda settings
def test_function_settings(template: Any) -> None:
    function = resource(template, "ApiFunction")
    assert (function["MemorySize"], function["Timeout"], function["Handler"]) == (
        512, 30, "main.handler")
    assert function["Architectures"] == ["arm64"]
    assert function["Runtime"] == {"Ref": "Runtime"}
    runtime = template["Parameters"]["Runtime"]
    assert "python3.11" in runtime["AllowedValues"] and runtime["Default"] != "python3.11"
    assert function["ProvisionedConcurrencyConfig"]["Fn::If"][0] == "UseProvisioned"
    assert function["SnapStart"]["Fn::If"][0] == "UseSnapStart"
    rule = template["Rules"]["SnapStartNeedsPython312"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [
        {"Ref": "Runtime"}, "python3.11"]}]}


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


def test_log_group_query_and_maintenance_schedule(template: Any) -> None:
    logs = resource(template, "FunctionLogGroup")
    assert logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert resource(template, "ApiFunction")["LoggingConfig"]["LogGroup"] == {
        "Ref": "FunctionLogGroup"}
    query = resource(template, "ErrorsQuery")
    assert "filter @message like /ERROR/" in query["QueryString"]
    schedule = resource(template, "MaintenanceRule")
    assert schedule["ScheduleExpression"] == {"Ref": "MaintenanceSchedule"}
    assert resource(template, "MaintenanceInvokePermission")["Principal"] == "events.amazonaws.com"
