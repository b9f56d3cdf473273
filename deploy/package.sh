#!/usr/bin/env bash
# Build dist/deployment.zip for Lambda: arm64, one Python version, main.py at the root.
#
#   deploy/package.sh [--python 3.14] [--with-boto3] [--bytecode] [--ca-bundle FILE]
#                     [--out dist/deployment.zip]
#
# Python 3.12 or newer: Lambda's python3.11 runs on Amazon Linux 2 (glibc 2.26), and the aarch64
# psycopg-binary wheels are manylinux_2_28 only, so such a zip would fail at its first import.
# --ca-bundle ships a PEM file (the RDS CA bundle, plus Amazon's root CAs behind RDS Proxy) as
# rds-ca-bundle.pem at the root, where the template's PGSSLROOTCERT points, for DBSslMode=verify-full.
#
# What no code path loads (Pillow's AVIF and fonts, unused SQLAlchemy dialects…) is left out:
# deploy/trim.txt lists it, with the reasons.
#
# Wheels only (--only-binary): a dependency without an aarch64 wheel for that Python fails
# the build here, not at cold start. The zip is reproducible: sorted entries, fixed times,
# no tests, dist-info trimmed to what importlib.metadata reads. --bytecode ships compiled
# modules (unchecked-hash .pyc, made by pythonX.Y, which must be on PATH): /var/task is
# read-only, so without them every cold start compiles every module it imports.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=3.14
WITH_BOTO3=0
BYTECODE=0
OUT=dist/deployment.zip
CA_BUNDLE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON_VERSION="$2"; shift 2 ;;
    --with-boto3) WITH_BOTO3=1; shift ;;
    --bytecode) BYTECODE=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --ca-bundle) CA_BUNDLE="$2"; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

if [[ "$PYTHON_VERSION" =~ ^3\.([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -lt 12 ]; then
  echo "package.sh: --python $PYTHON_VERSION is not supported on Lambda: python3.11 and older run" \
    "on Amazon Linux 2 (glibc 2.26), while the aarch64 psycopg-binary wheel needs glibc 2.28" \
    "(manylinux_2_28). Use --python 3.12 or newer (Runtime=python3.12+)." >&2
  exit 2
fi
if [ -n "$CA_BUNDLE" ] && ! grep -q "BEGIN CERTIFICATE" "$CA_BUNDLE" 2>/dev/null; then
  echo "package.sh: --ca-bundle $CA_BUNDLE is not a PEM file of certificates" >&2
  exit 2
fi

PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT

# The runtime dependencies, less what only the CLI and local server use, and less boto3 (the
# Lambda runtime ships it) unless asked for.
"$PYTHON" - "$WITH_BOTO3" > "$BUILD/requirements.txt" <<'PY'
import sys, tomllib
skip = {"uvicorn", "httptools", "typer", "rich"} | (set() if sys.argv[1] == "1" else {"boto3"})
for requirement in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    name = requirement.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()
    if name not in skip:
        print(requirement)
PY

"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
  --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
  --implementation cp --python-version "$PYTHON_VERSION" --only-binary=:all: \
  --target "$BUILD/site" -r "$BUILD/requirements.txt"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$BUILD/wheel" .
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
  --target "$BUILD/site" "$BUILD"/wheel/cloudnexus-*.whl
cp main.py "$BUILD/site/main.py"
if [ -n "$CA_BUNDLE" ]; then
  cp "$CA_BUNDLE" "$BUILD/site/rds-ca-bundle.pem"
fi
find "$BUILD/site" -name __pycache__ -prune -exec rm -rf {} +
# Debug symbols are a quarter of some wheels' libraries (cryptography's, Pillow's, SQLAlchemy's
# extensions): --strip-unneeded keeps what dynamic linking needs. llvm-strip reads aarch64
# objects on any host (GNU strip reads only its own architecture).
if command -v llvm-strip >/dev/null; then
  find "$BUILD/site" -type f \( -name '*.so' -o -name '*.so.*' \) \
    -exec llvm-strip --strip-unneeded {} +
else
  echo "package.sh: llvm-strip not found (Debian: apt-get install llvm): libraries left" \
    "unstripped, the zip is larger" >&2
fi
if [ "$BYTECODE" = 1 ]; then
  # Paths recorded relative to the zip's root, so tracebacks read the same as without.
  "python$PYTHON_VERSION" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    -s "$BUILD/site" "$BUILD/site"
fi

mkdir -p "$(dirname "$OUT")"
"$PYTHON" - "$BUILD/site" "$OUT" <<'PY'
import fnmatch, os, sys, zipfile
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
DROP_DIRS = {"tests", "test", "testing"}
TRIM = [line.strip() for line in Path("deploy/trim.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")]
KEEP_IN_DIST_INFO = {"METADATA", "entry_points.txt", "top_level.txt"}
files = []
for path in sorted(root.rglob("*")):
    relative = path.relative_to(root)
    parts = set(relative.parts[:-1])
    if path.is_dir() or parts & DROP_DIRS:
        continue
    if relative.parts[0] == "bin":
        continue
    if relative.parts[0].endswith(".dist-info") and relative.name not in KEEP_IN_DIST_INFO:
        continue
    if any(fnmatch.fnmatch(str(relative), pattern) for pattern in TRIM):
        continue
    files.append((str(relative), path))
out.unlink(missing_ok=True)
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for name, path in files:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes(), compresslevel=9)
unzipped = sum(path.stat().st_size for _, path in files)
print(f"{out}: {out.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, "
      f"{len(files)} files")
PY
