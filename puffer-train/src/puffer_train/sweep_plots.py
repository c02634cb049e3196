"""The PNGs of a sweep: `pareto.png` (score vs cost, every trial a point, failures marked, the front and
the chosen config) and `curves.png` (training curves of the best configs, every seed a line).

Drawn with matplotlib's object API on the Agg canvas: no pyplot state, no display needed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from matplotlib.figure import Figure


def write_all(folder: Path, found: dict, best, settings, env: str) -> dict[str, str]:
    from .sweep import front

    on_front = front(found)
    paths = {"pareto": folder / "pareto.png", "curves": folder / "curves.png"}
    pareto(paths["pareto"], found, on_front, best, settings, env)
    curves(paths["curves"], found, on_front, best, settings, env)
    return {k: str(v) for k, v in paths.items()}


def _cost_label(settings) -> str:
    return "wall-clock seconds of training" if settings.cost == "seconds" else "agent steps"


def pareto(path: Path, found: dict, on_front: list, best, settings, env: str) -> None:
    fig = Figure(figsize=(8, 5.5), dpi=110)
    ax = fig.add_subplot()
    search, repeats, failed = ([], []), ([], []), []
    for g in found.values():
        for t in g.trials:
            if t.constraints.get("failed", 0) > 0:
                failed.append(t.user_attrs.get("seconds") if settings.cost == "seconds" else
                              t.params.get("train.total_timesteps"))
                continue
            bucket = repeats if "repeat_of" in t.user_attrs else search
            bucket[0].append(t.values[1])
            bucket[1].append(t.values[0])
    scores = search[1] + repeats[1]
    costs = [c for c in search[0] + repeats[0] + failed if c]
    low = min(scores) if scores else 0.0
    span = (max(scores) - low) if scores else 1.0
    floor = low - 0.08 * (span or 1.0)
    ax.scatter(search[0], search[1], s=28, c="tab:blue", alpha=0.75, label="search trial")
    if repeats[0]:
        ax.scatter(repeats[0], repeats[1], s=22, c="tab:cyan", marker="s", alpha=0.75, label="fresh-seed repeat")
    if failed:
        fallback = min(costs) if costs else 1.0
        ax.scatter([c or fallback for c in failed], [floor] * len(failed), s=46, c="tab:red", marker="x",
                   label=f"failed ({len(failed)}: NaN, crash or timeout)")
    if on_front:
        xs, ys = [g.cost for g in on_front], [g.score for g in on_front]
        ax.step(xs, ys, where="post", c="tab:orange", lw=1.5)
        ax.scatter(xs, ys, s=70, facecolors="none", edgecolors="tab:orange", lw=1.5, label="Pareto front (mean)")
    if best is not None:
        ax.scatter([best.cost], [best.score], s=260, c="gold", marker="*", edgecolors="black", zorder=5,
                   label=f"chosen: trial {best.root}, {best.seeds} seeds")
    if costs and max(costs) / max(min(costs), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(f"cost: {_cost_label(settings)}")
    ax.set_ylabel("final evaluation score")
    ax.set_title(f"puffer-train sweep {env}: {sum(len(g.trials) for g in found.values())} trials")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def curves(path: Path, found: dict, on_front: list, best, settings, env: str, most: int = 5) -> None:
    """Training curves (the episodes finished in each epoch) of the chosen config and the front's best."""
    shown = [best] if best is not None else []
    shown += [g for g in sorted(on_front, key=lambda g: -g.score) if g not in shown]
    shown = shown[:most]
    fig = Figure(figsize=(8, 5.5), dpi=110)
    ax = fig.add_subplot()
    x_index = 1 if settings.cost == "seconds" else 0
    colors = ["tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown"]
    drawn = 0
    for color, g in zip(colors, shown, strict=False):
        for i, t in enumerate(g.trials):
            file = Path(t.user_attrs.get("run_dir", "")) / "curve.json"
            if not file.is_file():
                continue
            points = [p for p in json.loads(file.read_text()) if p[2] is not None and math.isfinite(p[2])]
            if not points:
                continue
            label = (f"trial {g.root}: mean {g.score:.4g} over {g.seeds} seed{'s' * (g.seeds > 1)}"
                     + (" (chosen)" if g is best else "")) if i == 0 else None
            ax.plot([p[x_index] for p in points], [p[2] for p in points], c=color, alpha=0.8, lw=1.2, label=label)
            drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no learning curve recorded (no trial finished an episode)", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("wall-clock seconds of training" if x_index else "agent steps")
    ax.set_ylabel("training score (episodes finished per epoch)")
    ax.set_title(f"puffer-train sweep {env}: learning curves of the best configs")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
