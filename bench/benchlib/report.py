"""Aggregation over runs (median, min, max) and the table, human and JSON."""

import json
import statistics


class Row:
    """One benchmark case: its metrics over the runs, or why it failed or was skipped."""

    def __init__(self, bench, case, note=""):
        self.bench, self.case, self.note = bench, case, note
        self.runs = []  # one dict metric -> number per run
        self.units = {}
        self.order = []  # metric names in the order first reported
        self.error = None
        self.skipped = None

    def add_run(self, metrics):
        clean = {}
        for key, val in metrics.items():
            if isinstance(val, tuple):
                val, unit = val
                self.units[key] = unit
            if key not in self.order:
                self.order.append(key)
            clean[key] = val
        self.runs.append(clean)

    def stats(self, key):
        vals = [r[key] for r in self.runs if r.get(key) is not None]
        if not vals:
            return None
        return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}

    def ok(self):
        """A row that ran produced at least one number in every run."""
        if self.skipped:
            return True
        return self.error is None and bool(self.runs) and all(
            any(v is not None for v in r.values()) for r in self.runs)

    def to_json(self):
        out = {"bench": self.bench, "case": self.case, "note": self.note, "runs": len(self.runs),
               "metrics": {}, "raw": self.runs}
        for key in self.order:
            st = self.stats(key)
            if st is not None:
                st["unit"] = self.units.get(key, "")
            out["metrics"][key] = st
        if self.error:
            out["error"] = self.error
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float) and not x.is_integer():
        a = abs(x)
        if a >= 1000:
            return f"{x:,.0f}"
        if a >= 100:
            return f"{x:.0f}"
        if a >= 10:
            return f"{x:.1f}"
        if a >= 1:
            return f"{x:.2f}"
        return f"{x:.3g}"
    return f"{int(x):,}"


def cell(st):
    if st is None:
        return "-"
    if st["n"] == 1 or st["min"] == st["max"]:
        return fmt(st["median"])
    return f"{fmt(st['median'])} ({fmt(st['min'])}–{fmt(st['max'])})"


def table(rows):
    """Markdown table: one line per (case, metric); median (min–max) over the runs."""
    lines = ["| bench | case | metric | median (min–max) | unit | n |", "|---|---|---|---|---|---|"]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.bench} | {row.case} | skipped | {row.skipped} | | 0 |")
            continue
        if row.error and not row.runs:
            lines.append(f"| {row.bench} | {row.case} | FAILED | {row.error} | | 0 |")
            continue
        for key in row.order:
            st = row.stats(key)
            n = st["n"] if st else 0
            lines.append(f"| {row.bench} | {row.case} | {key} | {cell(st)} | {row.units.get(key, '')} | {n} |")
        if row.error:
            lines.append(f"| {row.bench} | {row.case} | FAILED (some runs) | {row.error} | | |")
    notes = [f"- {r.bench}/{r.case}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines)


def dump_json(path, meta, rows):
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": [r.to_json() for r in rows]}, f, indent=1)
        f.write("\n")
