#!/usr/bin/env bash
# Run one of the CLI's admin commands (workspace, key, migrate, maintenance) in the deployed
# maintenance function: no host inside the VPC needed. Whoever may invoke it may do this.
#
#   deploy/admin.sh STACK COMMAND [ARGUMENTS...]      e.g. deploy/admin.sh shop workspace list
#   (the AWS CLI's region and profile come from its usual environment: AWS_REGION, AWS_PROFILE)
#
# Prints what the command printed and exits with its status.
set -euo pipefail
STACK="$1"
shift
payload=$(python3 -c 'import json, sys; print(json.dumps({"cloudnexus": sys.argv[1:]}))' "$@")
out=$(mktemp)
trap 'rm -f "$out"' EXIT  # a new key's secret is in it
if ! error=$(aws lambda invoke --function-name "$STACK-maintenance" --payload "$payload" \
    --cli-binary-format raw-in-base64-out --cli-read-timeout 910 \
    --query FunctionError --output text "$out"); then
  echo "admin failed: the AWS CLI could not invoke $STACK-maintenance (its error above)" >&2
  exit 1
fi
if [ "$error" != None ]; then
  echo "admin failed:" >&2
  cat "$out" >&2
  echo >&2
  exit 1
fi
python3 - "$out" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if "error" in answer:
    sys.exit(f"admin refused: {answer['error']['message']}")
sys.stdout.write(answer["stdout"])
sys.stderr.write(answer["stderr"])
sys.exit(answer["exit_code"])
PY
