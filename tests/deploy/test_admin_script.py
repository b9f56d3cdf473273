"""deploy/admin.sh: the CLI's admin commands through `aws lambda invoke`, answered here by the
real `main.handler` (a stand-in `aws` that hands the payload to it in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for `aws lambda invoke`: the payload goes to main.handler as Lambda would hand it,
# and the answer is written to the output file; FunctionError is None, as for a clean run.
FAKE_AWS = f"""#!{sys.executable}
import json, sys
sys.path.insert(0, {str(ROOT)!r})
arguments = sys.argv[1:]
assert arguments[:2] == ["lambda", "invoke"], arguments
with open(__file__ + ".calls", "a") as log:
    log.write(json.dumps(arguments) + "\\n")
import main
payload = json.loads(arguments[arguments.index("--payload") + 1])
answer = main.handler(payload, None)
open(arguments[-1], "w").write(json.dumps(answer))
print("None")
"""


def admin(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_AWS)
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"),
           "LOG_LEVEL": "WARNING", "HOME": str(tmp_path)}
    if "AWS_ACCESS_KEY_ID" in os.environ:
        env["AWS_ACCESS_KEY_ID"] = os.environ["AWS_ACCESS_KEY_ID"]
    return subprocess.run(["bash", "deploy/admin.sh", "shop", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_workspace_and_key_made_through_the_function(tmp_path: Path) -> None:
    assert admin(tmp_path, "migrate").returncode == 0
    made = admin(tmp_path, "workspace", "create", "shop-users", "--max-files", "100")
    assert made.returncode == 0, made.stderr
    assert "workspace shop-users created" in made.stdout
    key = admin(tmp_path, "key", "create", "--workspace", "shop-users", "--scope", "admin")
    assert key.returncode == 0 and key.stdout.strip().startswith("cnx_")
    assert "not shown again" in key.stderr
    calls = [json.loads(line) for line in
             (tmp_path / "bin" / "aws.calls").read_text().splitlines()]
    assert all("shop-maintenance" in call for call in calls)
    listed = admin(tmp_path, "workspace", "list", "--json")
    assert json.loads(listed.stdout)["max_files"] == 100


def test_the_command_status_and_refusals_come_back(tmp_path: Path) -> None:
    admin(tmp_path, "migrate")
    assert admin(tmp_path, "workspace", "create", "a").returncode == 0
    again = admin(tmp_path, "workspace", "create", "a")
    assert again.returncode == 1 and "already exists" in again.stderr
    usage = admin(tmp_path, "key", "create", "--workspace", "a", "--scope", "root")
    assert usage.returncode == 2 and "unknown scope" in usage.stderr
    refused = admin(tmp_path, "serve")
    assert refused.returncode == 1 and "admin refused: 'serve' cannot be invoked" in refused.stderr
