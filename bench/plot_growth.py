#!/usr/bin/env python3
"""Plots nodespace_growth_bench's JSON lines as an SVG (no third-party modules).

    python3 bench/plot_growth.py growth.jsonl docs/growth.svg

Left: p95 of the mixed query set and of plain vector searches per step, with
the strategy's Phase 1 budgets (50 ms queries, 100 ms vector search). Right:
resident memory of the engine and of its vector service, against the
MemoryManager tier in force (cache + vector cache), and disk. Steps where the
scaling manager applied an action are marked with its name.
"""
import json
import sys

W, H, PAD = 980, 420, 60
PANEL_W = (W - 3 * PAD) / 2


def scale(values, lo, hi, out_lo, out_hi):
    span = (hi - lo) or 1
    return [out_lo + (v - lo) / span * (out_hi - out_lo) for v in values]


def polyline(xs, ys, color, dash=""):
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline fill="none" stroke="{color}" stroke-width="2"{extra} points="{pts}"/>'


def panel(x0, title, nodes, series, y_label, budgets=()):
    top, bottom = PAD, H - PAD
    ymax = max([max(v) for _, v, _ in series] + [b for b, _ in budgets] + [1]) * 1.1
    xs = scale(nodes, 0, max(nodes), x0, x0 + PANEL_W)
    out = [f'<text x="{x0}" y="{top - 20}" font-size="14" font-weight="bold">{title}</text>',
           f'<line x1="{x0}" y1="{bottom}" x2="{x0 + PANEL_W}" y2="{bottom}" stroke="#444"/>',
           f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="#444"/>',
           f'<text x="{x0 - 45}" y="{top - 5}" font-size="11">{y_label}</text>']
    for i in range(5):
        v = ymax * i / 4
        y = bottom - (bottom - top) * i / 4
        out.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#eee"/>')
    for n, x in zip(nodes, xs):
        label = f"{n // 1000}K" if n < 1_000_000 else f"{n / 1e6:g}M"
        out.append(f'<text x="{x:.1f}" y="{bottom + 15}" font-size="10" text-anchor="middle">{label}</text>')
    for value, name in budgets:
        y = scale([value], 0, ymax, bottom, top)[0]
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#c00" stroke-dasharray="4,3"/>')
        out.append(f'<text x="{x0 + PANEL_W - 4}" y="{y - 4:.1f}" font-size="10" fill="#c00" text-anchor="end">{name}</text>')
    for k, (name, values, color) in enumerate(series):
        ys = scale(values, 0, ymax, bottom, top)
        out.append(polyline(xs, ys, color))
        out.append(f'<text x="{x0 + 10}" y="{top + 14 + 14 * k}" font-size="11" fill="{color}">{name}</text>')
    return out, xs


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    nodes = [r["nodes"] for r in rows]
    left, xs = panel(PAD, "p95 latency per step (ms)", nodes,
                     [("mixed queries p95", [r["query"]["p95_ms"] for r in rows], "#1f77b4"),
                      ("vector search p95", [r["vector"]["p95_ms"] for r in rows], "#ff7f0e")],
                     "ms", budgets=((50, "query budget 50 ms"), (100, "vector budget 100 ms")))
    right, _ = panel(2 * PAD + PANEL_W, "memory and disk (MB)", nodes,
                     [("engine + vector service resident",
                       [r["rss_mb"] + r.get("service_rss_mb", 0) for r in rows], "#2ca02c"),
                      ("memory tier (cache + vector cache)",
                       [r.get("tier_mb", 0) for r in rows], "#c00"),
                      ("database on disk", [r["disk_mb"] for r in rows], "#9467bd")], "MB")
    marks = []
    for r, x in zip(rows, xs):
        names = sorted({a["action"] for a in r["actions"] if a["result"] == "applied"})
        for k, name in enumerate(names):
            marks.append(f'<text x="{x:.1f}" y="{H - 22 + 10 * k}" font-size="8" fill="#555" '
                         f'text-anchor="middle">{name}</text>')
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 40}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>']
    svg += left + right + marks + ["</svg>"]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
