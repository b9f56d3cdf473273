#!/usr/bin/env bash
# cfn-lint and checkov on the template, from a virtual environment of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-deploy
STAMP="$VENV/.installed-$(cksum deploy/requirements-lint.txt | cut -d' ' -f1)"
if [ ! -f "$STAMP" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r deploy/requirements-lint.txt
  rm -f "$VENV"/.installed-* && touch "$STAMP"
fi
echo "cfn-lint deploy/template.yaml"
"$VENV/bin/cfn-lint" deploy/template.yaml
echo "checkov -f deploy/template.yaml"
"$VENV/bin/checkov" --quiet --compact --skip-download --framework cloudformation \
  -f deploy/template.yaml
echo "deploy/template.yaml: cfn-lint and checkov clean"
