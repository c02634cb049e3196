"""Run every bench module (bench/bench_*.py) and write bench/results/bench.md and bench.json.

    python bench/run.py [only-these-module-names...] [--quick]

Each module defines `rows(quick: bool) -> list[harness.Row]`.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def fmt(x: float) -> str:
    if x != x:
        return "n/a"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.1f}"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("--")]
    modules = sorted(HERE.glob("bench_*.py"))
    if only:
        modules = [m for m in modules if any(o in m.stem for o in only)]
    rows, failures = [], []
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # importable by name: worker processes unpickle its functions
        print(f"== {path.stem}", flush=True)
        start = time.time()
        try:
            spec.loader.exec_module(module)
            new = module.rows(quick)
        except Exception:
            failures.append((path.stem, traceback.format_exc()))
            print(failures[-1][1], file=sys.stderr, flush=True)
            continue
        for row in new:
            print(f"   {row.group} | {row.name}: {fmt(row.steps_per_s)} {row.note}", flush=True)
        rows.extend(new)
        print(f"   ({time.time() - start:.0f}s)", flush=True)

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "failures": [name for name, _ in failures]}
    (out / "bench.json").write_text(json.dumps({"meta": meta, "rows": [r.dict() for r in rows]}, indent=2))
    lines = ["| group | name | agents | workers | median | runs | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        runs = " ".join(fmt(v) for v in r.runs)
        lines.append(f"| {r.group} | {r.name} | {r.agents} | {r.workers} | {fmt(r.steps_per_s)} | {runs} | {r.note} |")
    (out / "bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out / 'bench.md'} and {out / 'bench.json'}")
    for name, _ in failures:
        print(f"FAILED: {name}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
