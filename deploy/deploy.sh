#!/usr/bin/env bash
# Deploy (or update) a CloudNexus stack with the AWS CLI: package the zip, upload it, deploy,
# then apply the migrations.
#
#   deploy/deploy.sh --stack cloudnexus --artifacts-bucket my-artifacts \
#       --vpc vpc-0abc --subnets subnet-1,subnet-2 --route-tables rtb-1,rtb-2 \
#       --cors-origins https://app.example.com \
#       [--vpc-endpoints true] [--runtime python3.14] [--multi-az true] [--rds-proxy false] \
#       [--public-uploads false] [--reserved-concurrency 25] [--db-max-connections 80] \
#       [--provisioned 0] [--snapstart false] [--ca-bundle rds-ca-bundle.pem] \
#       [--domain api.example.com --certificate arn:...] [--alarm-email ops@example.com] \
#       [--no-migrate] [--region eu-west-1]
#
# --route-tables: the route tables of the subnets, for the S3 gateway endpoint; not needed with
# --vpc-endpoints false (the VPC has a NAT or its own S3 and Secrets Manager endpoints).
# --ca-bundle: PEM file shipped in the zip; the functions then verify the database's
# certificate (DBSslMode=verify-full). Without it they require TLS without checking it.
#
# Order of an update: the stack update publishes a new version and moves the alias `live` to it,
# then this script invokes the maintenance function (the new code, no alias) with
# {"cloudnexus": "migrate"}. Migrations must therefore be backward compatible (add, then remove
# in a later release): for a moment the new code serves on the old schema. The first deploy
# skips the migrate step: bootstrap.sql must run first (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=cloudnexus RUNTIME=python3.14 MULTI_AZ=true PROXY=false PUBLIC=false PROVISIONED=0
SNAPSTART=false DOMAIN="" CERTIFICATE="" EMAIL="" ARTIFACTS="" VPC="" SUBNETS="" CORS=""
ROUTE_TABLES="" ENDPOINTS=true RESERVED=25 MAX_CONNECTIONS=80 CA_BUNDLE="" MIGRATE=true
REGION_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-migrate) MIGRATE=false; shift; continue ;;
    --stack) STACK="$2" ;; --artifacts-bucket) ARTIFACTS="$2" ;; --vpc) VPC="$2" ;;
    --subnets) SUBNETS="$2" ;; --cors-origins) CORS="$2" ;; --runtime) RUNTIME="$2" ;;
    --route-tables) ROUTE_TABLES="$2" ;; --vpc-endpoints) ENDPOINTS="$2" ;;
    --multi-az) MULTI_AZ="$2" ;; --rds-proxy) PROXY="$2" ;; --public-uploads) PUBLIC="$2" ;;
    --reserved-concurrency) RESERVED="$2" ;; --db-max-connections) MAX_CONNECTIONS="$2" ;;
    --provisioned) PROVISIONED="$2" ;; --snapstart) SNAPSTART="$2" ;; --domain) DOMAIN="$2" ;;
    --certificate) CERTIFICATE="$2" ;; --alarm-email) EMAIL="$2" ;; --ca-bundle) CA_BUNDLE="$2" ;;
    --region) REGION_ARGS=(--region "$2") ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift 2
done
for required in ARTIFACTS VPC SUBNETS CORS; do
  [ -n "${!required}" ] || { echo "missing --$(echo $required | tr A-Z a-z) (see the header)" >&2; exit 2; }
done
if [ "$ENDPOINTS" = true ] && [ -z "$ROUTE_TABLES" ]; then
  echo "missing --route-tables (for the S3 gateway endpoint), or --vpc-endpoints false when the" \
    "VPC has a NAT or its own S3 and Secrets Manager endpoints" >&2
  exit 2
fi

PACKAGE_ARGS=(--python "${RUNTIME#python}")
SSL_MODE=require
if [ -n "$CA_BUNDLE" ]; then
  PACKAGE_ARGS+=(--ca-bundle "$CA_BUNDLE")
  SSL_MODE=verify-full
fi
deploy/package.sh "${PACKAGE_ARGS[@]}"  # refuses python3.11 and older, with the reason

PARAMETERS=(
  VpcId="$VPC" SubnetIds="$SUBNETS" RouteTableIds="$ROUTE_TABLES" CreateVpcEndpoints="$ENDPOINTS"
  CorsOrigins="$CORS" Runtime="$RUNTIME" MultiAZ="$MULTI_AZ" EnableRdsProxy="$PROXY"
  PublicUploads="$PUBLIC" ReservedConcurrency="$RESERVED" DBMaxConnections="$MAX_CONNECTIONS"
  ProvisionedConcurrency="$PROVISIONED" EnableSnapStart="$SNAPSTART" DBSslMode="$SSL_MODE"
  DomainName="$DOMAIN" CertificateArn="$CERTIFICATE" AlarmEmail="$EMAIL"
)
# SAM names the published version after AutoPublishCodeSha256 (VersionHash): a hash of the zip,
# the template and every parameter value, so a change to any of them publishes a new version
# and moves `live` (SAM's own hash misses parameter values used in the environment).
VERSION_HASH=$( { sha256sum dist/deployment.zip deploy/template.yaml | cut -d' ' -f1
                  printf '%s\n' "${PARAMETERS[@]}"; } | sha256sum | cut -c1-32)

EXISTED=true
aws cloudformation describe-stacks "${REGION_ARGS[@]}" --stack-name "$STACK" >/dev/null 2>&1 \
  || EXISTED=false

aws cloudformation package "${REGION_ARGS[@]}" --template-file deploy/template.yaml \
  --s3-bucket "$ARTIFACTS" --s3-prefix "$STACK" --output-template-file dist/packaged.yaml
aws cloudformation deploy "${REGION_ARGS[@]}" --stack-name "$STACK" \
  --template-file dist/packaged.yaml --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-fail-on-empty-changeset --parameter-overrides "${PARAMETERS[@]}" VersionHash="$VERSION_HASH"
aws cloudformation describe-stacks "${REGION_ARGS[@]}" --stack-name "$STACK" \
  --query "Stacks[0].Outputs" --output table

if [ "$EXISTED" = true ] && [ "$MIGRATE" = true ]; then
  deploy/migrate.sh "$STACK" "${REGION_ARGS[@]}"
  echo "check everything with: cloudnexus doctor --aws $STACK-api"
else
  cat <<NEXT
Next (docs/deploy.md): run deploy/bootstrap.sql once as the master user, then
  deploy/migrate.sh $STACK ${REGION_ARGS[*]}
and check everything with: cloudnexus doctor --aws $STACK-api
NEXT
fi
