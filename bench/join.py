#!/usr/bin/env python3
"""Join op-benchmark TSVs (bench_ops, bench_ops_torch.py) into one table.

Each input has the header
  backend net layer n c h w k kh stride pad dir gflops ms
and one row per (net, layer, direction); gflops may be NA. The first file
(--base) is the reference (PyTorch); every --cmp file gets a GFLOP/s column
and a ratio-to-base column. Then summary lines: the geometric mean of each
ratio, the minimum and geometric mean of each compared backend's GFLOP/s
over the 3x3 shapes, and whether the floors given are met.

Standard library only (runs on any python3, with or without torch).
"""
import argparse
import math
import sys

COLS = ("backend", "net", "layer", "n", "c", "h", "w", "k", "kh", "stride",
        "pad", "dir", "gflops", "ms")
# bench_ops adds of_peak (the row's fraction of the measured FP32 peak)
# after these; torch rows do not have it.
OPTIONAL_COLS = ("of_peak",)
DIR_ORDER = {"fwd": 0, "bwd_data": 1, "bwd_weight": 2}


def read_tsv(path):
    """-> (backend name, {key: row dict}, [keys in file order])"""
    rows, order, backend = {}, [], None
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith("backend\t"):
                continue
            parts = line.split("\t")
            if not len(COLS) <= len(parts) <= len(COLS) + len(OPTIONAL_COLS):
                sys.stderr.write("join.py: %s:%d: %d fields, want %d to %d; "
                                 "skipped\n" % (path, ln, len(parts),
                                                len(COLS), len(COLS) +
                                                len(OPTIONAL_COLS)))
                continue
            r = dict(zip(COLS + OPTIONAL_COLS, parts))
            backend = backend or r["backend"]
            key = (r["net"], r["layer"], r["dir"])
            try:
                g = float(r["gflops"])
                r["gflops"] = g if math.isfinite(g) and g > 0 else None
            except ValueError:
                r["gflops"] = None
            if key not in rows:
                order.append(key)
            rows[key] = r
    if backend is None:  # no data rows (the backend failed): name by file
        backend = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return backend, rows, order


def geomean(vals):
    vals = [v for v in vals if v is not None and v > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def fmt(v, spec="%.2f"):
    return "NA" if v is None else spec % v


def parse_floor(items, what):
    out = {}
    for it in items or []:
        name, sep, val = it.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name] = float(val)
        except ValueError:
            sys.exit("join.py: %s wants NAME=NUMBER, got %r" % (what, it))
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="reference TSV (torch)")
    p.add_argument("--cmp", action="append", default=[],
                   help="TSV to compare (repeat)")
    p.add_argument("--out", help="also write the table and summary here")
    p.add_argument("--tsv", help="also write the joined table as TSV here")
    p.add_argument("--floor-ratio", action="append", metavar="BACKEND=X",
                   help="floor on the geometric mean of BACKEND/base")
    p.add_argument("--floor-3x3", action="append", metavar="BACKEND=GFLOPS",
                   help="floor on BACKEND's minimum GFLOP/s over 3x3 shapes")
    p.add_argument("--title", default=None)
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a floor is not met")
    a = p.parse_args(argv)
    floor_ratio = parse_floor(a.floor_ratio, "--floor-ratio")
    floor_3x3 = parse_floor(a.floor_3x3, "--floor-3x3")

    base_name, base, order = read_tsv(a.base)
    cmps = [read_tsv(path) for path in a.cmp]
    names = [c[0] for c in cmps]
    keys = list(order)
    for _, rows, ords in cmps:
        for k in ords:
            if k not in base:
                sys.stderr.write("join.py: %s/%s %s has no %s row\n"
                                 % (k[0], k[1], k[2], base_name))
                keys.append(k)
    seen, ukeys = set(), []
    for k in keys:
        if k not in seen:
            seen.add(k)
            ukeys.append(k)
    # keep each file's shape order, directions fwd, bwd_data, bwd_weight
    first = {}
    for i, k in enumerate(ukeys):
        first.setdefault((k[0], k[1]), i)
    ukeys.sort(key=lambda k: (first[(k[0], k[1])], DIR_ORDER.get(k[2], 9)))

    def row_of(k):
        for rows in [base] + [c[1] for c in cmps]:
            if k in rows:
                return rows[k]
        return None

    head = ["shape", "dir", base_name]
    for n in names:
        head += [n, "%s/%s" % (n, base_name)]
    table, tsv = [], ["\t".join(["net", "layer", "n", "c", "h", "w", "k",
                                 "kh", "stride", "pad", "dir",
                                 base_name + "_gflops"] +
                                sum([[n + "_gflops", n + "_ratio"]
                                     for n in names], []))]
    ratios = {n: [] for n in names}
    g3 = {n: [] for n in names}
    missing = {n: 0 for n in names}
    for k in ukeys:
        r = row_of(k)
        shape = "%s/%s %s->%s %sx%s k%s s%s" % (r["net"], r["layer"], r["c"],
                                                r["k"], r["h"], r["w"],
                                                r["kh"], r["stride"])
        b = base.get(k, {}).get("gflops")
        line = [shape, k[2], fmt(b)]
        tl = [r[c] for c in ("net", "layer", "n", "c", "h", "w", "k", "kh",
                             "stride", "pad")] + [k[2], fmt(b, "%.3f")]
        for n, rows, _ in cmps:
            v = rows.get(k, {}).get("gflops")
            ratio = v / b if (v is not None and b is not None) else None
            if v is None:
                missing[n] += 1
            ratios[n].append(ratio)
            if r["kh"] == "3":
                g3[n].append((v, "%s/%s %s" % (k[0], k[1], k[2])))
            line += [fmt(v), fmt(ratio)]
            tl += [fmt(v, "%.3f"), fmt(ratio, "%.4f")]
        table.append(line)
        tsv.append("\t".join(tl))

    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    out = []
    if a.title:
        out.append(a.title)
    out.append("  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                         for i, (h, w) in enumerate(zip(head, widths))))
    out.append("  ".join("-" * w for w in widths))
    for line in table:
        out.append("  ".join(x.ljust(w) if i < 2 else x.rjust(w)
                             for i, (x, w) in enumerate(zip(line, widths))))
    out.append("")
    all_met = True
    for n in names:
        gm = geomean(ratios[n])
        nvals = sum(1 for v in ratios[n] if v is not None)
        s = "geomean %s/%s over %d rows: %s" % (n, base_name, nvals,
                                                 fmt(gm, "%.3f"))
        if missing[n]:
            s += " (%d rows NA)" % missing[n]
        if n in floor_ratio:
            ok = gm is not None and gm >= floor_ratio[n] and not missing[n]
            all_met &= ok
            s += "; floor %.2f: %s" % (floor_ratio[n],
                                       "met" if ok else "NOT met")
        out.append(s)
    for n in names:
        vals = [v for v, _ in g3[n] if v is not None]
        if not g3[n]:
            continue
        gm = geomean(vals)
        if vals:
            vmin, where = min((v, w) for v, w in g3[n] if v is not None)
        else:
            vmin, where = None, "-"
        s = ("%s GFLOP/s over %d 3x3 rows: min %s (%s), geomean %s"
             % (n, len(g3[n]), fmt(vmin), where, fmt(gm)))
        nmiss = len(g3[n]) - len(vals)
        if nmiss:
            s += " (%d rows NA)" % nmiss
        if n in floor_3x3:
            f = floor_3x3[n]
            ok = vmin is not None and vmin >= f and not nmiss
            all_met &= ok
            s += "; floor %g on min: %s (geomean %s)" % (
                f, "met" if ok else "NOT met",
                "met" if gm is not None and gm >= f else "NOT met")
        out.append(s)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    if a.tsv:
        with open(a.tsv, "w") as f:
            f.write("\n".join(tsv) + "\n")
    return 3 if (a.strict and not all_met) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
