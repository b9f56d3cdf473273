#!/usr/bin/env bash
# Deploy (or update) a CloudNexus stack with the AWS CLI: package the zip, upload it, deploy.
#
#   deploy/deploy.sh --stack cloudnexus --artifacts-bucket my-artifacts \
#       --vpc vpc-0abc --subnets subnet-1,subnet-2 --cors-origins https://app.example.com \
#       [--runtime python3.14] [--multi-az true] [--rds-proxy false] [--public-uploads false] \
#       [--provisioned 0] [--snapstart false] [--domain api.example.com --certificate arn:...] \
#       [--alarm-email ops@example.com] [--region eu-west-1]
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=cloudnexus RUNTIME=python3.14 MULTI_AZ=true PROXY=false PUBLIC=false PROVISIONED=0
SNAPSTART=false DOMAIN="" CERTIFICATE="" EMAIL="" ARTIFACTS="" VPC="" SUBNETS="" CORS=""
REGION_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK="$2" ;; --artifacts-bucket) ARTIFACTS="$2" ;; --vpc) VPC="$2" ;;
    --subnets) SUBNETS="$2" ;; --cors-origins) CORS="$2" ;; --runtime) RUNTIME="$2" ;;
    --multi-az) MULTI_AZ="$2" ;; --rds-proxy) PROXY="$2" ;; --public-uploads) PUBLIC="$2" ;;
    --provisioned) PROVISIONED="$2" ;; --snapstart) SNAPSTART="$2" ;; --domain) DOMAIN="$2" ;;
    --certificate) CERTIFICATE="$2" ;; --alarm-email) EMAIL="$2" ;;
    --region) REGION_ARGS=(--region "$2") ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift 2
done
for required in ARTIFACTS VPC SUBNETS CORS; do
  [ -n "${!required}" ] || { echo "missing --$(echo $required | tr A-Z a-z) (see the header)" >&2; exit 2; }
done

deploy/package.sh --python "${RUNTIME#python}"
aws cloudformation package "${REGION_ARGS[@]}" --template-file deploy/template.yaml \
  --s3-bucket "$ARTIFACTS" --s3-prefix "$STACK" --output-template-file dist/packaged.yaml
aws cloudformation deploy "${REGION_ARGS[@]}" --stack-name "$STACK" \
  --template-file dist/packaged.yaml --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-fail-on-empty-changeset --parameter-overrides \
    VpcId="$VPC" SubnetIds="$SUBNETS" CorsOrigins="$CORS" Runtime="$RUNTIME" \
    MultiAZ="$MULTI_AZ" EnableRdsProxy="$PROXY" PublicUploads="$PUBLIC" \
    ProvisionedConcurrency="$PROVISIONED" EnableSnapStart="$SNAPSTART" DomainName="$DOMAIN" \
    CertificateArn="$CERTIFICATE" AlarmEmail="$EMAIL"
aws cloudformation describe-stacks "${REGION_ARGS[@]}" --stack-name "$STACK" \
  --query "Stacks[0].Outputs" --output table
cat <<NEXT
Next (docs/deploy.md): run deploy/bootstrap.sql once as the master user, then
  aws lambda invoke --function-name $STACK-api --payload '{"cloudnexus": "migrate"}' \\
      --cli-binary-format raw-in-base64-out /dev/stdout
and check everything with: cloudnexus doctor --aws $STACK-api
NEXT
