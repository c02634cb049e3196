"""Terminal output while training: a live `rich` dashboard on a TTY, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

try:
    import psutil
except ImportError:  # optional: the dashboard just leaves CPU/RAM out
    psutil = None


def fmt(x) -> str:
    if isinstance(x, str):
        return x
    if x != x:
        return "-"
    ax = abs(x)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if ax >= scale:
            return f"{x / scale:.2f}{unit}"
    if ax == 0 or ax >= 100:
        return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
    return f"{x:.3g}"


def machine() -> dict:
    if psutil is None:
        return {}
    return {"cpu %": psutil.cpu_percent(), "ram %": psutil.virtual_memory().percent}


def time_split(seconds: dict[str, float]) -> dict[str, float]:
    """One epoch's seconds per part (env, forward, update, other) as percentages, plus the epoch's length,
    so a user sees where time goes (as PufferLib's dashboard does)."""
    total = sum(seconds.values())
    out = {f"{k} %": 100 * v / total if total > 0 else float("nan") for k, v in seconds.items()}
    out["epoch s"] = total
    return out


class Dashboard:
    """Shows a dict of sections {"progress": {...}, "episodes": {...}, "losses": {...}, "time": {...}}:
    a live table on a TTY when `live`, else one plain line per `show`. `due()` paces it: at most one
    redraw (or line) per `interval` seconds."""

    def __init__(self, title: str, live: bool, interval: float = 1.0):
        self.title = title
        self.interval = interval
        self.last = -float("inf")
        self.live = None
        if live and sys.stdout.isatty():
            self.console = Console()
            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval

    def show(self, snapshot: dict) -> None:
        self.last = time.monotonic()
        if self.live is not None:
            self.live.update(self._render(snapshot), refresh=True)
            return
        p, e, losses = snapshot.get("progress", {}), snapshot.get("episodes", {}), snapshot.get("losses", {})
        parts = [f"epoch {p.get('epoch', 0)}", f"steps {fmt(p.get('agent steps', 0))}", f"sps {fmt(p.get('sps', 0))}"]
        parts += [f"{k} {fmt(v)}" for k, v in e.items()]
        parts += [f"{k} {fmt(v)}" for k, v in losses.items() if k in ("policy", "value", "entropy")]
        split = [f"{k.removesuffix(' %')} {v:.0f}%" for k, v in snapshot.get("time", {}).items()
                 if k.endswith(" %") and k not in ("cpu %", "ram %") and v == v]
        if split:
            parts.append("time " + " ".join(split))
        print(f"[{self.title}] " + " | ".join(parts), flush=True)

    def _render(self, snapshot: dict):
        tables = []
        for section, values in snapshot.items():
            table = Table(title=section, title_justify="left", show_header=False, min_width=36)
            table.add_column("key", style="cyan", no_wrap=True)
            table.add_column("value", justify="right", no_wrap=True)
            for key, value in values.items():
                table.add_row(key, fmt(value))
            tables.append(table)
        grid = Table.grid(padding=(0, 2))
        for i in range(0, len(tables), 2):  # two sections side by side fit an 80-column terminal
            grid.add_row(*tables[i:i + 2])
        return Group(f"[bold]puffer-train[/bold] {self.title}", grid)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
