"""`cloudnexus doctor --aws`: against a moto server holding a deployment made to match the
checklist (every check passes), then with one item broken (that check fails, by name)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from cloudnexus.aws_verify import run
from cloudnexus.cli import app as cli

REGION = "us-east-1"


def clients(endpoint: str) -> Any:
    return lambda service: boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def deploy(endpoint: str, suffix: str, *, maintenance_function: bool = True) -> dict[str, str]:
    """Resources as deploy/template.yaml makes them (STACK-api with the alias `live`, which the
    HTTP API invokes; STACK-maintenance, which the schedule invokes). Without
    `maintenance_function`, a deployment where the schedule targets the API's alias."""
    aws = clients(endpoint)
    ec2, iam, s3 = aws("ec2"), aws("iam"), aws("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for i, zone in ((1, "a"), (2, "b"))]
    lambda_sg = ec2.create_security_group(GroupName=f"lambda-{suffix}", VpcId=vpc,
                                          Description="lambda")["GroupId"]
    database_sg = ec2.create_security_group(GroupName=f"db-{suffix}", VpcId=vpc,
                                            Description="db")["GroupId"]
    ec2.revoke_security_group_egress(GroupId=lambda_sg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=lambda_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": database_sg}]}])
    ec2.authorize_security_group_ingress(GroupId=database_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": lambda_sg}]}])
    bucket = f"files-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "abort", "Status": "Enabled", "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    role = iam.create_role(RoleName=f"fn-{suffix}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}
    ))["Role"]["Arn"]
    policies = {
        "logs": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                  "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:x:*"}],
        "vpc": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses"]}],
        "s3": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/private/*",
                             f"arn:aws:s3:::{bucket}/uploads/*"]},
               {"Effect": "Allow", "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}"}],
    }
    for name, statements in policies.items():
        iam.put_role_policy(RoleName=f"fn-{suffix}", PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("main.py", "def handler(event, context):\n    return {}\n")
    sqs = aws("sqs")
    dead_letters = sqs.create_queue(QueueName=f"events-dlq-{suffix}")["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(
        QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"events-{suffix}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters_arn,
                                     "maxReceiveCount": 5})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [
            {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:Put"], "Filter": {"Key": {
                "FilterRules": [{"Name": "prefix", "Value": prefix}]}}}
            for prefix in ("private/", "uploads/")]})
    lambda_ = aws("lambda")
    settings = {
        "Runtime": "python3.14", "Role": role, "Handler": "main.handler",
        "Code": {"ZipFile": code.getvalue()}, "MemorySize": 512, "Architectures": ["arm64"],
        "VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": [lambda_sg]},
        "Environment": {"Variables": {
            "DB_HOST": "db.internal", "DB_PORT": "5432", "DB_NAME": "cloudnexus",
            "DB_USER": "cloudnexus_app", "DB_SECRET_ARN": "arn:aws:secretsmanager:x", "S3_BUCKET":
            bucket, "LOG_LEVEL": "INFO", "CORS_ORIGINS": "https://app.example",
            "EVENTS_QUEUE_URL": queue}}}
    function = lambda_.create_function(FunctionName=f"cloudnexus-{suffix}-api", Timeout=28,
                                       **settings)
    version = lambda_.publish_version(FunctionName=function["FunctionName"])["Version"]
    alias = lambda_.create_alias(FunctionName=function["FunctionName"], Name="live",
                                 FunctionVersion=version)["AliasArn"]
    scheduled = alias
    if maintenance_function:
        maintenance = lambda_.create_function(
            FunctionName=f"cloudnexus-{suffix}-maintenance", Timeout=900, **settings)
        lambda_.put_function_event_invoke_config(FunctionName=maintenance["FunctionName"],
                                                 MaximumRetryAttempts=0)
        scheduled = maintenance["FunctionArn"]
    dispatcher = lambda_.create_function(
        FunctionName=f"cloudnexus-{suffix}-dispatcher", Timeout=60,
        **{**settings, "Handler": "main.dispatch"})
    lambda_.create_event_source_mapping(EventSourceArn=queue_arn,
                                        FunctionName=dispatcher["FunctionName"], BatchSize=10,
                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    gateway = aws("apigatewayv2")
    api = gateway.create_api(Name=f"api-{suffix}", ProtocolType="HTTP")["ApiId"]
    integration = gateway.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=alias,
        PayloadFormatVersion="2.0")["IntegrationId"]
    for route in ("ANY /{proxy+}", "GET /health"):
        gateway.create_route(ApiId=api, RouteKey=route, Target=f"integrations/{integration}")
    gateway.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    watch = aws("cloudwatch")
    dims = [{"Name": "FunctionName", "Value": function["FunctionName"]}]

    def stat(metric: str, namespace: str, key: str,
             dimensions: list[dict[str, str]] = dims) -> dict[str, Any]:
        return {"Id": key, "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
            "Period": 300, "Stat": "Sum"}}

    watch.put_metric_alarm(AlarmName=f"errors-{suffix}", EvaluationPeriods=1, Threshold=1,
                           ComparisonOperator="GreaterThanThreshold", Metrics=[
                               stat("Errors", "AWS/Lambda", "errors"),
                               stat("Invocations", "AWS/Lambda", "invocations"),
                               {"Id": "rate", "Expression": "100 * errors / invocations",
                                "ReturnData": True}])
    watch.put_metric_alarm(AlarmName=f"duration-{suffix}", Namespace="AWS/Lambda",
                           MetricName="Duration", Dimensions=dims, ExtendedStatistic="p95",
                           Period=300, EvaluationPeriods=1, Threshold=10000,
                           ComparisonOperator="GreaterThanThreshold")
    watch.put_metric_alarm(AlarmName=f"cpu-{suffix}", Namespace="AWS/RDS",
                           MetricName="CPUUtilization", Statistic="Average", Period=300,
                           EvaluationPeriods=2, Threshold=80,
                           ComparisonOperator="GreaterThanThreshold")
    watch.put_metric_alarm(AlarmName=f"storage-{suffix}", EvaluationPeriods=1, Threshold=20,
                           ComparisonOperator="LessThanThreshold", Metrics=[
                               stat("FreeStorageSpace", "AWS/RDS", "free"),
                               {"Id": "pct", "Expression": "100 * free / (20 * 1073741824)",
                                "ReturnData": True}])
    stage = [{"Name": "ApiId", "Value": api}, {"Name": "Stage", "Value": "$default"}]
    watch.put_metric_alarm(AlarmName=f"api-5xx-{suffix}", EvaluationPeriods=1, Threshold=1,
                           ComparisonOperator="GreaterThanThreshold", Metrics=[
                               stat("5xx", "AWS/ApiGateway", "server_errors", stage),
                               stat("Count", "AWS/ApiGateway", "requests", stage),
                               {"Id": "rate", "Expression": "100 * server_errors / requests",
                                "ReturnData": True}])
    watch.put_metric_alarm(AlarmName=f"throttles-{suffix}", Namespace="AWS/Lambda",
                           MetricName="Throttles", Dimensions=dims, Statistic="Sum", Period=300,
                           EvaluationPeriods=1, Threshold=0,
                           ComparisonOperator="GreaterThanThreshold")
    watch.put_metric_alarm(AlarmName=f"connections-{suffix}", EvaluationPeriods=3, Threshold=80,
                           ComparisonOperator="GreaterThanThreshold", Metrics=[
                               stat("DatabaseConnections", "AWS/RDS", "connections"),
                               {"Id": "pct", "Expression": "100 * connections / 80",
                                "ReturnData": True}])
    aws("logs").create_log_group(logGroupName=f"/aws/lambda/{function['FunctionName']}")
    aws("logs").put_retention_policy(logGroupName=f"/aws/lambda/{function['FunctionName']}",
                                     retentionInDays=30)
    events = aws("events")
    events.put_rule(Name=f"maintenance-{suffix}", ScheduleExpression="rate(15 minutes)")
    events.put_targets(Rule=f"maintenance-{suffix}", Targets=[
        {"Id": "maintenance", "Arn": scheduled}])
    events.put_rule(Name=f"sweep-{suffix}", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=f"sweep-{suffix}", Targets=[
        {"Id": "sweep", "Arn": dispatcher["FunctionArn"]}])
    return {"function": function["FunctionName"], "database_sg": database_sg,
            "bucket": bucket, "queue": queue}


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str) -> dict[str, str]:
    return deploy(moto_endpoint, "ok")


def failing(checks: list[Any]) -> list[str]:
    return [check.name for check in checks if not check.ok]


def test_a_deployment_made_to_the_checklist_passes(deployed: dict[str, str],
                                                   moto_endpoint: str) -> None:
    checks = run(deployed["function"], region=REGION, endpoint_url=moto_endpoint)
    assert failing(checks) == [], [c for c in checks if not c.ok]
    assert len(checks) >= 18


def test_cli_prints_pass_per_item(deployed: dict[str, str], moto_endpoint: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(cli, ["doctor", "--aws", deployed["function"], "--region",
                                      REGION, "--endpoint-url", moto_endpoint])
    assert result.exit_code == 0, result.output
    assert "database security group" in result.output and "FAIL" not in result.output


def test_a_schedule_on_the_api_alias_is_found(moto_endpoint: str) -> None:
    """A deployment without a maintenance function, whose rule targets the alias `live` (as the
    template did): the schedule is found; the shared 28 s timeout is what fails."""
    made = deploy(moto_endpoint, "alias-target", maintenance_function=False)
    checks = run(made["function"], region=REGION, endpoint_url=moto_endpoint)
    assert failing(checks) == ["maintenance function"]
    schedule = next(check for check in checks if check.name == "maintenance schedule")
    assert ":live" in schedule.detail


@pytest.mark.parametrize("breakage", ["open_database", "small_memory", "public_bucket",
                                      "wide_s3", "plain_password", "api_timeout_30",
                                      "maintenance_retried", "no_schedule", "no_dead_letters",
                                      "no_sweep", "private_uploads_not_notified"])
def test_one_broken_item_fails_by_name(moto_endpoint: str, breakage: str) -> None:
    made = deploy(moto_endpoint, breakage.replace("_", "-"))
    aws = clients(moto_endpoint)
    expected = {
        "open_database": "database security group", "small_memory": "lambda settings",
        "public_bucket": "bucket public access", "wide_s3": "role: s3 scoped to the bucket",
        "plain_password": "environment", "api_timeout_30": "lambda settings",
        "maintenance_retried": "maintenance function", "no_schedule": "maintenance schedule",
        "no_dead_letters": "events queue", "no_sweep": "dispatcher sweep",
        "private_uploads_not_notified": "bucket notifications",
    }[breakage]
    if breakage == "api_timeout_30":  # the HTTP API would give up first: no log of why
        aws("lambda").update_function_configuration(FunctionName=made["function"], Timeout=30)
    elif breakage == "maintenance_retried":  # no config: Lambda's default, two retries
        aws("lambda").delete_function_event_invoke_config(
            FunctionName=made["function"].replace("-api", "-maintenance"))
    elif breakage == "no_dead_letters":
        aws("sqs").set_queue_attributes(QueueUrl=made["queue"], Attributes={"RedrivePolicy": ""})
    elif breakage == "no_sweep":
        aws("events").remove_targets(Rule=f"sweep-{breakage.replace('_', '-')}", Ids=["sweep"])
    elif breakage == "private_uploads_not_notified":  # the prefix most uploads live under
        s3 = aws("s3")
        kept = [c for c in s3.get_bucket_notification_configuration(Bucket=made["bucket"])[
            "QueueConfigurations"] if c["Filter"]["Key"]["FilterRules"][0]["Value"] != "private/"]
        s3.put_bucket_notification_configuration(Bucket=made["bucket"], NotificationConfiguration={
            "QueueConfigurations": [{key: c[key] for key in ("QueueArn", "Events", "Filter")}
                                    for c in kept]})
    elif breakage == "no_schedule":
        aws("events").remove_targets(Rule=f"maintenance-{breakage.replace('_', '-')}",
                                     Ids=["maintenance"])
    elif breakage == "open_database":
        aws("ec2").authorize_security_group_ingress(GroupId=made["database_sg"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    elif breakage == "small_memory":
        aws("lambda").update_function_configuration(FunctionName=made["function"],
                                                    MemorySize=256)
    elif breakage == "public_bucket":
        aws("s3").put_public_access_block(Bucket=made["bucket"], PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False})
    elif breakage == "wide_s3":
        aws("iam").put_role_policy(RoleName=f"fn-{breakage.replace('_', '-')}",
                                   PolicyName="s3-extra", PolicyDocument=json.dumps({
                                       "Version": "2012-10-17", "Statement": [{
                                           "Effect": "Allow", "Action": "s3:*",
                                           "Resource": "*"}]}))
    else:
        config = aws("lambda").get_function_configuration(FunctionName=made["function"])
        variables = {**config["Environment"]["Variables"], "DB_PASS": "hunter2"}
        variables.pop("DB_SECRET_ARN")
        aws("lambda").update_function_configuration(FunctionName=made["function"],
                                                    Environment={"Variables": variables})
    checks = run(made["function"], region=REGION, endpoint_url=moto_endpoint)
    assert failing(checks) == [expected]
