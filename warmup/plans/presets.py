"""The ramp plans that ship in ``schedules/``: beside the source tree, or in the working
directory (the container image copies them to /app/schedules, its working directory)."""

from __future__ import annotations

from pathlib import Path

from warmup.errors import ConfigError


def _candidates() -> tuple[Path, Path]:
    # The working directory as it is now, not as it was when this module was imported.
    return Path(__file__).resolve().parents[2] / "schedules", Path.cwd() / "schedules"


def presets_dir() -> Path | None:
    return next((path for path in _candidates() if path.is_dir()), None)


def presets() -> dict[str, Path]:
    """Preset name (the file's stem) to its file."""
    folder = presets_dir()
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))} if folder else {}


def preset(name: str) -> Path:
    found = presets().get(name)
    if found is None:
        raise ConfigError(
            f"the {name} plan is missing: looked in {', '.join(map(str, _candidates()))}"
        )
    return found
