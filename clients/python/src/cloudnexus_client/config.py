"""Where the SDK and `cnx` find the service: arguments, the environment, the profile file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROFILE = "default"


def config_path() -> Path:
    """The profile file: $XDG_CONFIG_HOME/cloudnexus/config.toml (~/.config by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cloudnexus" / "config.toml"


def cache_dir() -> Path:
    """Where interrupted uploads keep their state: $XDG_CACHE_HOME/cloudnexus (~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloudnexus"


@dataclass(frozen=True)
class Profile:
    url: str | None = None
    key: str | None = None


def read_profiles() -> dict[str, Profile]:
    path = config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    profiles = data.get("profiles", {})
    return {name: Profile(url=values.get("url"), key=values.get("key"))
            for name, values in profiles.items() if isinstance(values, dict)}


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def save_profile(name: str, profile: Profile) -> Path:
    """Write the profile beside the others; the file is made readable by its owner only."""
    profiles = read_profiles()
    profiles[name] = profile
    lines: list[str] = []
    for profile_name, values in sorted(profiles.items()):
        lines.append(f"[profiles.{_toml_string(profile_name)}]")
        if values.url:
            lines.append(f"url = {_toml_string(values.url)}")
        if values.key:
            lines.append(f"key = {_toml_string(values.key)}")
        lines.append("")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    os.chmod(path, 0o600)  # an older file may have been made with a looser mode
    return path


@dataclass(frozen=True)
class Settings:
    url: str
    credential: str | None


def resolve(url: str | None = None, key: str | None = None, token: str | None = None,
            profile: str | None = None) -> Settings:
    """Arguments, then CLOUDNEXUS_URL / CLOUDNEXUS_KEY / CLOUDNEXUS_TOKEN, then the profile."""
    saved = read_profiles().get(profile or os.environ.get("CLOUDNEXUS_PROFILE")
                                or DEFAULT_PROFILE, Profile())
    resolved_url = url or os.environ.get("CLOUDNEXUS_URL") or saved.url
    if not resolved_url:
        raise ValueError("no service URL: pass url=, set CLOUDNEXUS_URL or run `cnx login`")
    credential = (key or token or os.environ.get("CLOUDNEXUS_KEY")
                  or os.environ.get("CLOUDNEXUS_TOKEN") or saved.key)
    return Settings(url=resolved_url.rstrip("/"), credential=credential)
