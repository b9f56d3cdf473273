"""deploy/package.sh: an arm64 Lambda zip with main.py at its root, small and reproducible."""

from __future__ import annotations

import fcntl
import fnmatch
import glob
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parents[2]
EM_AARCH64 = 183
PYTHON = "3.14"


@pytest.fixture(scope="module", autouse=True)
def one_build_at_a_time() -> Iterator[None]:
    """package.sh builds its wheel in the checkout (setuptools' build/), so two test workers
    running it at once would remove each other's files: they take turns here."""
    with open(Path(tempfile.gettempdir()) / "cloudnexus-package-sh.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("dist") / "deployment.zip"
    result = subprocess.run(
        ["bash", "deploy/package.sh", "--python", PYTHON, "--out", str(out)], cwd=ROOT,
        capture_output=True, text=True, timeout=600, env={"PYTHON": sys.executable,
                                                           "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result.stdout


def test_main_py_is_at_the_root_and_nothing_needless_is_shipped(package: tuple[Path, str]) -> None:
    names = zipfile.ZipFile(package[0]).namelist()
    assert "main.py" in names and "cloudnexus/app.py" in names
    console = {"index.html", "app.js", "console.css", "cloudnexus.js"}  # /console's own files
    assert {f"cloudnexus/console/static/{name}" for name in console} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("tests/", "bin/"))]
    assert not [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[1] == "RECORD"]
    local_only = ("uvicorn/", "httptools/", "typer/", "rich/", "boto3/")
    assert not [n for n in names if n.startswith(local_only)]


def test_binaries_are_aarch64_for_the_target_python(package: tuple[Path, str]) -> None:
    archive = zipfile.ZipFile(package[0])
    shared = [name for name in archive.namelist() if re.search(r"\.so(\.\d+)*$", name)]
    assert shared
    for name in shared:
        header = archive.read(name)[:20]
        assert header[:4] == b"\x7fELF", name
        assert int.from_bytes(header[18:20], "little") == EM_AARCH64, name
        tag = re.search(r"cpython-(\d+)", name)
        assert tag is None or tag.group(1) == PYTHON.replace(".", ""), name


def test_size_is_printed_and_within_lambda_limits(package: tuple[Path, str]) -> None:
    path, printed = package
    infos = zipfile.ZipFile(path).infolist()
    zipped, unzipped = path.stat().st_size, sum(info.file_size for info in infos)
    assert f"{zipped / 1e6:.1f} MB zipped" in printed
    assert zipped < 50e6 and unzipped < 250e6  # Lambda's limits for a direct upload
    # The project's own budget (bench/results.json holds the measured size).
    assert zipped < 22e6 and unzipped < 80e6


def test_the_build_is_reproducible(package: tuple[Path, str], tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    subprocess.run(["bash", "deploy/package.sh", "--python", PYTHON, "--out", str(again)],
                   cwd=ROOT, check=True, capture_output=True, timeout=600,
                   env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (package[0], again)]
    assert digest[0] == digest[1]


def test_a_dependency_without_an_arm64_wheel_fails_loudly(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", "deploy/package.sh", "--python", "2.7", "--out", str(tmp_path / "x.zip")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("version", ["3.11", "3.10"])
def test_runtimes_on_amazon_linux_2_are_refused_with_the_reason(tmp_path: Path,
                                                                 version: str) -> None:
    """python3.11 on Lambda is Amazon Linux 2 (glibc 2.26); psycopg-binary's aarch64 wheel
    needs glibc 2.28, so the zip would only fail at its first cold start."""
    out = tmp_path / "x.zip"
    result = subprocess.run(
        ["bash", "deploy/package.sh", "--python", version, "--out", str(out)], cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and not out.exists()
    assert "glibc 2.26" in result.stderr and "3.12 or newer" in result.stderr
    assert "Collecting" not in result.stdout  # refused before pip ran


def test_the_template_offers_no_runtime_that_package_sh_refuses() -> None:
    template = (ROOT / "deploy" / "template.yaml").read_text()
    allowed = re.search(r"AllowedValues: \[(python3\.\d+(?:, python3\.\d+)*)\]", template)
    assert allowed is not None
    versions = [int(v.rsplit(".", 1)[1]) for v in allowed.group(1).split(", ")]
    assert min(versions) >= 12


def _python_at_least_312() -> tuple[str, str] | None:
    """An interpreter for --bytecode (it must be the target version): PATH, then pyenv's."""
    for minor in (14, 13, 12):
        on_path = shutil.which(f"python3.{minor}")
        if on_path and "shims" in Path(on_path).parts:  # pyenv's shims need pyenv on PATH
            on_path = None
        found = on_path or next(iter(sorted(glob.glob(
            str(Path.home() / f".pyenv/versions/3.{minor}.*/bin/python3.{minor}")))), None)
        if found:
            return f"3.{minor}", found
    return None


def test_bytecode_is_shipped_on_request_for_a_read_only_task_root(tmp_path: Path) -> None:
    """--bytecode: hash-based .pyc that the runtime never re-checks, made by that Python."""
    target = _python_at_least_312()
    if target is None:
        pytest.skip("no python3.12 or newer here to compile with (3.11 is refused)")
    version, interpreter = target
    out = tmp_path / "deployment.zip"
    subprocess.run(
        ["bash", "deploy/package.sh", "--python", version, "--bytecode", "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
        env={"PYTHON": sys.executable, "PATH": f"{Path(interpreter).parent}:/usr/bin:/bin"})
    archive = zipfile.ZipFile(out)
    tag = f"cpython-{version.replace('.', '')}"
    compiled = archive.read(f"cloudnexus/__pycache__/app.{tag}.pyc")
    assert int.from_bytes(compiled[4:8], "little") == 0b01  # hash-based, unchecked
    assert f"fastapi/__pycache__/routing.{tag}.pyc" in archive.namelist()
    # .pyc beside every .py: more than the plain package's 20 MB bound (cryptography, for
    # ES256 and EdDSA tokens, is the largest part), well within Lambda's 50 MB.
    assert out.stat().st_size < 40e6  # with Pillow's libraries (previews)
    assert sum(info.file_size for info in archive.infolist()) < 130e6


TRIM = [line.strip() for line in (ROOT / "deploy" / "trim.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")]
# What the Lambda runtime provides: manylinux's allowed system libraries.
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                    "libz.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libutil.so.1",
                    "libresolv.so.2", "libnsl.so.1", "libcrypt.so.1",
                    "ld-linux-aarch64.so.1"}


def _trimmed(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in TRIM)


def _elf(data: bytes) -> ELFFile:
    return ELFFile(io.BytesIO(data))


def _needed(elf: ELFFile) -> set[str]:
    dynamic = elf.get_section_by_name(".dynamic")
    return {tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED"}


def test_what_trim_txt_lists_is_left_out(package: tuple[Path, str]) -> None:
    names = zipfile.ZipFile(package[0]).namelist()
    assert [name for name in names if _trimmed(name)] == []
    assert "PIL/_imaging.cpython-314-aarch64-linux-gnu.so" in names  # the globs are not greedy
    assert "_cffi_backend.cpython-314-aarch64-linux-gnu.so" in names


def test_every_shipped_library_finds_what_it_links_and_carries_no_debug_symbols(
        package: tuple[Path, str]) -> None:
    archive = zipfile.ZipFile(package[0])
    shared = [name for name in archive.namelist() if re.search(r"\.so(\.\d+)*$", name)]
    shipped = {name.rsplit("/", 1)[-1] for name in shared}
    for name in shared:
        elf = _elf(archive.read(name))
        missing = _needed(elf) - shipped - SYSTEM_LIBRARIES
        assert not missing, f"{name} needs {missing}"
        if shutil.which("llvm-strip"):
            assert elf.get_section_by_name(".symtab") is None, f"{name} is not stripped"


def test_pillow_and_cryptography_trimmed_and_stripped_so_still_render_and_sign(
        tmp_path: Path) -> None:
    """The same trim and strip, on this machine's own (x86_64) wheels, which can run here:
    every preview format renders, ES256 and EdDSA tokens sign and verify."""
    import cryptography
    import PIL

    if not shutil.which("llvm-strip"):
        pytest.skip("llvm-strip is not installed: the package is not stripped either")
    site = tmp_path / "site"
    installed = Path(PIL.__file__).parents[1]
    for name in ("PIL", "pillow.libs", Path(cryptography.__file__).parent.name):
        shutil.copytree(installed / name, site / name)
    for path in sorted(site.rglob("*")):
        if path.is_file() and _trimmed(path.relative_to(site).as_posix()):
            path.unlink()
        elif path.is_file() and re.search(r"\.so(\.\d+)*$", path.name):
            subprocess.run(["llvm-strip", "--strip-unneeded", str(path)], check=True)
    assert not list(site.glob("PIL/_avif*")) and list(site.glob("PIL/_webp*"))
    script = f"""
import sys
sys.path.insert(0, {str(site)!r})
import PIL, cryptography
assert PIL.__file__.startswith({str(site)!r}) and cryptography.__file__.startswith({str(site)!r})
from tests.previews.images import encoded, jpeg_oriented, opened, quadrants
from cloudnexus.previews.render import render
from cloudnexus.previews.variants import Variant
sources = [jpeg_oriented(6), encoded(quadrants(), "PNG"), encoded(quadrants(), "WEBP"),
           encoded(quadrants(), "GIF")]
for source in sources:
    for kind in ("webp", "jpeg", "png"):
        assert opened(render(source, Variant(60, None, format=kind), max_pixels=10**7)).width == 60
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
for key, algorithm in ((ec.generate_private_key(ec.SECP256R1()), "ES256"),
                       (ed25519.Ed25519PrivateKey.generate(), "EdDSA")):
    token = jwt.encode({{"sub": "x"}}, key, algorithm=algorithm)
    assert jwt.decode(token, key.public_key(), algorithms=[algorithm]) == {{"sub": "x"}}
print("rendered and signed")
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "rendered and signed"
