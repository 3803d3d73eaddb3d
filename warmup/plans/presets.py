"""The ramp plans that ship with warmup (``warmup/schedules/``, package data): found in the
installed package, whatever the working directory. The checkout's ``schedules/`` links to
them, so examples can name ``schedules/acs-default.yaml``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from warmup.errors import ConfigError


def presets_dir() -> Path | None:
    folder = Path(str(resources.files("warmup") / "schedules"))
    return folder if folder.is_dir() else None


def presets() -> dict[str, Path]:
    """Preset name (the file's stem) to its file."""
    folder = presets_dir()
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))} if folder else {}


def plan_file(name_or_path: Path | str) -> Path:
    """A plan given by its file or by a preset's name (``acs-default``): a path that exists,
    or names a folder or a suffix, is taken as a file; a bare word is a preset."""
    path = Path(name_or_path)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    return preset(str(path))


def preset(name: str) -> Path:
    found = presets().get(name)
    if found is None:
        known = ", ".join(presets()) or "none installed"
        raise ConfigError(
            f"no plan file {name!r} and no preset of that name (presets: {known}; "
            "`warmup plan list` describes them)"
        )
    return found
