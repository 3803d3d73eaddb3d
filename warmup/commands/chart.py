"""The simulation chart: planned vs simulated daily volume; failure rate against the gates."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt

from warmup.control.simulate import Simulation

SUPPORTED = {".png", ".svg"}
MARKERS = {
    "pause": ("#c0392b", "pause"),
    "hold": ("#e67e22", "hold"),
    "release": ("#f5cba7", "release"),
    "resume": ("#27ae60", "resume"),
    "provider-hold": ("#f39c12", "a provider group held"),
    "provider-pause": ("#922b21", "a provider group paused"),
    "idle": ("#7f8c8d", "idle"),
    "rewarm": ("#8e44ad", "re-warm"),
}


def write_chart(simulation: Simulation, path: Path) -> Path:
    """Write a PNG or SVG (chosen by the file's suffix) and return its path."""
    if path.suffix.lower() not in SUPPORTED:
        raise ValueError(f"{path}: the chart must end in .png or .svg")
    days = [d.day for d in simulation.days]
    planned = [simulation.schedule.planned_cap(d.date) for d in simulation.days]
    sent = [d.sent for d in simulation.days]
    # No reports in the window is no reading, not a healthy one: leave a gap in the line.
    failure = [
        d.window_failure_rate * 100 if d.window_reports else math.nan for d in simulation.days
    ]
    gates = simulation.plan.gates.failure_rate

    figure, volume_axis = plt.subplots(figsize=(11, 5.5), dpi=110)
    volume_axis.bar(days, sent, color="#5dade2", label="simulated sent")
    volume_axis.step(
        days, planned, where="mid", color="#1b4f72", linewidth=1.8, label="planned cap (earliest)"
    )
    volume_axis.set_xlabel("day")
    volume_axis.set_ylabel("emails per day")
    volume_axis.set_yscale("symlog", linthresh=100)

    rate_axis = volume_axis.twinx()
    rate_axis.plot(
        days, failure, color="#7d3c98", marker="o", markersize=3, label="failure rate (gate window)"
    )
    rate_axis.axhline(
        gates.hold * 100, color="#e67e22", linestyle="--", label=f"hold {gates.hold:.1%}"
    )
    rate_axis.axhline(
        gates.pause * 100, color="#c0392b", linestyle="--", label=f"pause {gates.pause:.1%}"
    )
    rate_axis.set_ylabel("failure rate %")
    highest = max((f for f in failure if not math.isnan(f)), default=0.0)
    rate_axis.set_ylim(0, max(highest, gates.pause * 100) * 1.3)

    seen: set[str] = set()
    for day in simulation.days:
        if day.note == "blackout":
            volume_axis.axvspan(
                day.day - 0.5,
                day.day + 0.5,
                color="#2c3e50",
                alpha=0.15,
                hatch="//",
                label=None if "blackout" in seen else "blackout date",
            )
            seen.add("blackout")
        for transition in day.transitions:
            if transition.action in MARKERS:
                color, label = MARKERS[transition.action]
                volume_axis.axvline(
                    day.day,
                    color=color,
                    alpha=0.35,
                    linewidth=3,
                    label=None if label in seen else label,
                )
                seen.add(label)

    handles = volume_axis.get_legend_handles_labels()
    rate_handles = rate_axis.get_legend_handles_labels()
    volume_axis.legend(
        handles[0] + rate_handles[0], handles[1] + rate_handles[1], loc="upper left", fontsize=8
    )
    volume_axis.set_title(
        f"plan {simulation.plan.name}: planned vs simulated volume, failure rate vs gates"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
