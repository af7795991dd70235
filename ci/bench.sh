#!/usr/bin/env bash
# Throughput and memory of `cdevents-conformance validate`, as recorded in BENCHMARKS.md.
#
#   ci/bench.sh [--events N] [--rounds K] [--rss-events M] [--cpu C] [--enforce] [--drivers]
#
# 1. `cargo bench --bench validate` pinned to one core: parse-only baseline vs the in-process
#    pipeline vs the release binary end-to-end, on an N-event NDJSON corpus (default 100,000),
#    same run, medians of K rounds (default 5).
# 2. Peak RSS of the release binary validating an M-event corpus (default 1,000,000), with
#    `--format json > /dev/null`, measured by GNU time (`/usr/bin/time -v`).
# 3. A table of both against the targets: pipeline >= 50% of parse-only (judged on CPU time,
#    wall clock shown beside it), RSS < 64 MiB.
#
# 4. With --drivers: `cargo bench -p cdevents-suites --bench drivers` (listener driver vs raw
#    reqwest, sink + judge vs raw hyper, default listener suite wall time; not pinned: it needs
#    both cores), judged against >= 80%, >= 70% and < 10 s.
#
# Corpora are generated deterministically under target/bench/ (cached; ~0.5 GB for 1M events)
# and never committed. Not part of `cargo test`. With --enforce the script fails when a target
# is missed; without it, it only reports (timings on shared CI machines are noisy).
set -euo pipefail
cd "$(dirname "$0")/.."

events=100000 rounds=5 rss_events=1000000 cpu=0 enforce=0 drivers=0
while [ $# -gt 0 ]; do
    case "$1" in
        --events) events=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --rss-events) rss_events=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --enforce) enforce=1; shift ;;
        --drivers) drivers=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

target_dir=${CARGO_TARGET_DIR:-target}
bench_dir=$target_dir/bench
mkdir -p "$bench_dir"
seed=20240601

pin() {
    if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
        taskset -c "$cpu" "$@"
    else
        echo "warning: taskset unavailable, not pinned to one core" >&2
        "$@"
    fi
}

echo "== build (bench profile: release settings; also builds the binary it times)"
cargo bench -p cdevents-conformance --bench validate --no-run

echo "== throughput: $events events, $rounds rounds, pinned to cpu $cpu"
pin cargo bench -p cdevents-conformance --bench validate -- \
    --events "$events" --rounds "$rounds" --seed "$seed" \
    | tee "$bench_dir/throughput.txt"
result=$(grep '^RESULT ' "$bench_dir/throughput.txt")
bin=$(sed -n 's/^binary   //p' "$bench_dir/throughput.txt" | head -1)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }

echo "== memory: $rss_events events"
# Absolute: `cargo bench` runs the generator from the package directory (runner/), so a
# relative path would write the corpus under runner/target/ and the RSS run would not find it.
corpus=$(cd "$bench_dir" && pwd)/corpus-$rss_events-s$seed-g1.ndjson
if [ ! -f "$corpus" ]; then
    cargo bench -p cdevents-conformance --bench validate -- --generate "$rss_events" "$corpus" --seed "$seed"
fi
if [ -x /usr/bin/time ]; then
    set +e
    pin /usr/bin/time -v "$bin" --color never validate --format json "$corpus" \
        >/dev/null 2>"$bench_dir/rss.txt"
    status=$?
    set -e
    rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$bench_dir/rss.txt")
    rss_wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$bench_dir/rss.txt")
else
    echo "warning: /usr/bin/time missing (apt-get install -y time); using python's getrusage" >&2
    read -r rss_kib rss_wall status < <(pin python3 - "$bin" "$corpus" <<'EOF'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run([sys.argv[1], "--color", "never", "validate", "--format", "json", sys.argv[2]],
                   stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, f"{time.monotonic() - t:.2f}s", p.returncode)
EOF
    )
fi
if [ "$status" -gt 1 ]; then
    echo "validate failed with status $status" >&2
    exit 1
fi

pct() { awk -v r="$1" 'BEGIN { printf "%.1f%%", 100 * r }'; }
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
# The target is judged on CPU time (steady on a shared machine); wall clock is shown beside it.
ratio=$(field pipeline_cpu_ratio)
ratio_ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "met" : "MISSED" }')
rss_ok=$(awk -v k="$rss_kib" 'BEGIN { print (k < 64 * 1024) ? "met" : "MISSED" }')

row() { printf '| %-46s | %9s | %8s | %9s | %8s | %-8s | %s\n' "$@"; }
stage() { row "$2" "$(field "$1"_cpu_eps)" "$(pct "$(field "$1"_cpu_ratio)")" "$(field "$1"_eps)" "$(pct "$(field "$1"_ratio)")" "$3" "$4"; }
echo
echo "== summary ($(nproc) cpus, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(date -u +%Y-%m-%d), $events events, median of $rounds rounds)"
row "stage" "cpu ev/s" "vs parse" "wall ev/s" "vs parse" "target" ""
row "---" "---" "---" "---" "---" "---" "---"
stage parse_only "parse-only, serde_json::from_slice (baseline)" "" ""
stage decode "decode (NdjsonReader)" "" ""
stage decode_checks "decode + checks" "" ""
stage pipeline "validate pipeline, in-process, one core" ">= 50%" "$ratio_ok"
stage binary "validate binary end-to-end (--format json)" "" ""
echo
echo "peak RSS validating $rss_events events: $rss_mib MiB (target < 64 MiB: $rss_ok), wall $rss_wall"

drivers_ok=met
if [ "$drivers" = 1 ]; then
    echo
    echo "== drivers: listener driver, sink, default listener suite"
    cargo bench -p cdevents-suites --bench drivers -- --rounds "$rounds" | tee "$bench_dir/drivers.txt"
    dres=$(grep '^RESULT ' "$bench_dir/drivers.txt")
    dfield() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $dres"; }
    drivers_ok=$(awk -v l="$(dfield listener_ratio)" -v s="$(dfield sink_ratio)" -v w="$(dfield suite_wall_s)" \
        'BEGIN { print (l >= 0.8 && s >= 0.7 && w < 10) ? "met" : "MISSED" }')
    echo "drivers: listener $(pct "$(dfield listener_ratio)") (>= 80%), sink $(pct "$(dfield sink_ratio)") (>= 70%), suite wall $(dfield suite_wall_s) s (< 10 s): $drivers_ok"
fi

if [ "$enforce" = 1 ] && { [ "$ratio_ok" != met ] || [ "$rss_ok" != met ] || [ "$drivers_ok" != met ]; }; then
    exit 1
fi
