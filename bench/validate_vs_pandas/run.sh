#!/usr/bin/env bash
# validate_vs_pandas: `kiln validate stats` against pandas 1.5 doing the
# same work (read_csv, describe(include='all'), value_counts() of every
# column) on UCI Adult, the Chicago taxi sample and a generated CSV of the
# taxi's schema (ROWS rows, default 10 million, made here in a temporary
# folder and deleted afterwards). Kiln runs on one core (GOMAXPROCS=1,
# --workers 1) and on two; pandas' CSV reader and statistics are
# single-threaded, so it has no thread setting to tune. Peak RSS comes from
# /usr/bin/time -v. The last line is one JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
export OMP_WAIT_POLICY=PASSIVE
# kiln validate records each run in the store, hashing its input files
# (SHA-256 of the 1.2 GB CSV): off, so that the wall times measure
# validation, as pandas' do, and no store is left in ~/.kiln.
export KILN_STORE=off
DATA="${KILN_TEST_DATA:-$(cd .. && pwd)/shared/data}"
ROWS="${ROWS:-10000000}"
BENCH=bench/validate_vs_pandas

need=""
/usr/bin/python3 -c 'import pandas' 2>/dev/null || need="$need python3-pandas"
[ -x /usr/bin/time ] || need="$need time"
if [ -n "$need" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/kiln" ./cmd/kiln
go build -o "$TMP/gen" ./$BENCH/gen

ADULT_COLS="age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income"

# kiln FILE CORES [flags...]: prints "seconds rows peak_rss_mb wall": the
# seconds of the work as Kiln times it (reading and statistics, as peer.py
# times pandas' read_csv and statistics, both leaving out start-up) and
# the process's wall time.
kiln() {
	local file=$1 cores=$2
	shift 2
	local t0 t1
	t0=$(date +%s.%N)
	GOMAXPROCS=$cores /usr/bin/time -v -o "$TMP/time" "$TMP/kiln" validate stats "$file" --workers "$cores" --json "$@" >"$TMP/out.json"
	t1=$(date +%s.%N)
	/usr/bin/python3 - "$t0" "$t1" "$TMP/out.json" "$TMP/time" <<'PY'
import json, re, sys
t0, t1, out, tv = sys.argv[1:]
doc = json.load(open(out))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tv).read()).group(1)) / 1024
print(doc["seconds"], doc["rows"], rss, float(t1) - float(t0))
PY
}

# best3 CMD...: the run with the least seconds of three.
best3() {
	for _ in 1 2 3; do "$@"; done | sort -n | head -1
}

# pandas FILE [adult]: prints "seconds rows peak_rss_mb".
pandas() {
	if [ "${2:-}" = adult ]; then
		/usr/bin/python3 $BENCH/peer.py "$1" adult "$ADULT_COLS"
	else
		/usr/bin/python3 $BENCH/peer.py "$1"
	fi | /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["seconds"], d["rows"], d["peak_rss_mb"])'
}

ADULT_FLAGS=(--columns "$ADULT_COLS" --comment '|' --trim-space --na '?')
echo "adult: kiln 1 core, 2 cores, pandas" >&2
a1=$(best3 kiln "$DATA/adult/adult.data" 1 "${ADULT_FLAGS[@]}")
a2=$(best3 kiln "$DATA/adult/adult.data" 2 "${ADULT_FLAGS[@]}")
ap=$(best3 pandas "$DATA/adult/adult.data" adult)
echo "taxi sample: kiln 1 core, 2 cores, pandas" >&2
t1=$(best3 kiln "$DATA/chicago-taxi/data.csv" 1)
t2=$(best3 kiln "$DATA/chicago-taxi/data.csv" 2)
tp=$(best3 pandas "$DATA/chicago-taxi/data.csv")

echo "generating $ROWS rows of the taxi schema" >&2
"$TMP/gen" -src "$DATA/chicago-taxi/data.csv" -out "$TMP/big.csv" -rows "$ROWS"
head -n 1000001 "$TMP/big.csv" >"$TMP/1m.csv"
echo "1M rows: kiln 1 core, pandas" >&2
m1=$(kiln "$TMP/1m.csv" 1)
mp=$(pandas "$TMP/1m.csv")
echo "$ROWS rows: kiln 1 core, 2 cores, pandas" >&2
b1=$(kiln "$TMP/big.csv" 1)
b2=$(kiln "$TMP/big.csv" 2)
bp=$(pandas "$TMP/big.csv")
size_mb=$(( $(stat -c %s "$TMP/big.csv") / 1048576 ))

/usr/bin/python3 - "$a1" "$a2" "$ap" "$t1" "$t2" "$tp" "$m1" "$mp" "$b1" "$b2" "$bp" "$size_mb" "$ROWS" <<'PY'
import json, os, sys
runs = [tuple(float(x) for x in a.split()) for a in sys.argv[1:12]]
wall = lambda r: r[1] / r[3]
(a1, a2, ap, t1, t2, tp, m1, mp, b1, b2, bp) = runs
size_mb, rows = int(sys.argv[12]), int(sys.argv[13])
rps = lambda r: r[1] / r[0]
for name, k1, k2, p in [("adult", a1, a2, ap), ("taxi", t1, t2, tp), ("1m", m1, None, mp), ("10m", b1, b2, bp)]:
    line = f"{name:6s} rows {int(k1[1]):>9d}  kiln 1 core {rps(k1):>10.0f} rows/s"
    if k2: line += f"  2 cores {rps(k2):>10.0f} rows/s"
    line += f"  pandas {rps(p):>9.0f} rows/s  ratio 1 core {rps(k1)/rps(p):.2f}"
    if k2: line += f"  2 cores {rps(k2)/rps(p):.2f}"
    line += f"  peak RSS kiln {k1[2]:.0f} MB pandas {p[2]:.0f} MB  (kiln 1 core with start-up {wall(k1):.0f} rows/s)"
    print(line, file=sys.stderr)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
print(json.dumps({
    "bench": "validate_vs_pandas", "rows_big": rows, "big_csv_mb": size_mb,
    "adult_kiln_rows_per_s_1core": round(rps(a1)), "adult_kiln_rows_per_s_2core": round(rps(a2)),
    "adult_pandas_rows_per_s": round(rps(ap)), "adult_ratio_1core": round(rps(a1) / rps(ap), 2),
    "taxi_kiln_rows_per_s_1core": round(rps(t1)), "taxi_kiln_rows_per_s_2core": round(rps(t2)),
    "taxi_pandas_rows_per_s": round(rps(tp)), "taxi_ratio_1core": round(rps(t1) / rps(tp), 2),
    "kiln_rows_per_s_10m_1core": round(rps(b1)), "kiln_rows_per_s_10m_2core": round(rps(b2)),
    "pandas_rows_per_s_10m": round(rps(bp)), "kiln_wall_rows_per_s_10m_1core": round(wall(b1)),
    "ratio_10m_1core": round(rps(b1) / rps(bp), 2), "ratio_10m_2core": round(rps(b2) / rps(bp), 2),
    "peak_rss_mb_1m": round(m1[2], 1), "peak_rss_mb_10m": round(b1[2], 1),
    "peak_rss_mb_10m_2core": round(b2[2], 1), "pandas_peak_rss_mb_10m": round(bp[2]),
    "nproc": os.cpu_count(), "cpu": cpu}))
PY
