#!/usr/bin/env bash
# Apply the migrations through the maintenance function (it has no alias: the code deployed).
#
#   deploy/migrate.sh STACK [aws options, e.g. --region eu-west-1]
#
# A migration that fills something for every stored file (0005's backfill: about 7 minutes a
# million files) can outlast the function's 900 s. It goes on where it stopped when invoked
# again, so a run cut off by the timeout is invoked again, up to MIGRATE_ATTEMPTS times.
set -euo pipefail
STACK="$1"
shift
ATTEMPTS="${MIGRATE_ATTEMPTS:-8}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for attempt in $(seq "$ATTEMPTS"); do
  # The CLI's own 60 s read timeout would retry the invoke: a second migration beside the first.
  if ! error=$(aws lambda invoke "$@" --function-name "$STACK-maintenance" \
      --payload '{"cloudnexus": "migrate"}' --cli-binary-format raw-in-base64-out \
      --cli-read-timeout 910 --query FunctionError --output text "$out"); then
    echo "migrate failed: the AWS CLI could not invoke $STACK-maintenance (its error above)" >&2
    exit 1
  fi
  if [ "$error" = None ]; then
    echo "migrate: $(cat "$out")"
    exit 0
  fi
  grep -q "Task timed out" "$out" || break
  echo "migrate: cut off at the function's timeout (run $attempt of $ATTEMPTS), going on" >&2
done
echo "migrate failed:" >&2
cat "$out" >&2
echo >&2
exit 1
