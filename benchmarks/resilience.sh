#!/usr/bin/env bash
# Resilience of the plan runner, measured on the `ci` profile:
#  1. an external Dask cluster (`dask scheduler` + two `dask worker --nthreads 1`),
#     one worker killed with SIGKILL mid-plan: the plan must still complete;
#  2. `python -m spikelib run` (embedded LocalCluster) killed with SIGKILL at two
#     moments, then run again: it must finish only what is missing;
#  3. every run's test MSE must be equal in both results folders.
# Usage: bash benchmarks/resilience.sh [OUT_DIR]   (about 10 minutes on 2 cores)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
DASK=${DASK:-.venv/bin/dask}
OUT=${1:-/tmp/spikelib-resilience}
rm -rf "$OUT" && mkdir -p "$OUT"
PORT=8799
ADDRESS=tcp://127.0.0.1:$PORT

echo "== 1. external cluster, two workers, one killed mid-plan"
$DASK scheduler --port $PORT --no-dashboard >"$OUT/scheduler.log" 2>&1 &
SCHEDULER=$!
sleep 6
$DASK worker $ADDRESS --nthreads 1 --name w1 --no-dashboard >"$OUT/w1.log" 2>&1 &
W1=$!
$DASK worker $ADDRESS --nthreads 1 --name w2 --no-nanny --no-dashboard >"$OUT/w2.log" 2>&1 &
W2=$!
sleep 8
start=$(date +%s)
SPIKELIB_RESULTS="$OUT/cluster" $PY -m spikelib run --profile ci --scheduler $ADDRESS \
  >"$OUT/cluster-run.log" 2>&1 &
RUNNER=$!
sleep 70
echo "killing worker w2 (pid $W2) at $(( $(date +%s) - start )) s"
kill -9 $W2
wait $RUNNER
echo "runner exit status $? after $(( $(date +%s) - start )) s"
tail -n 3 "$OUT/cluster-run.log" | tr '\r' '\n' | tail -n 2
kill $W1 $SCHEDULER 2>/dev/null
wait 2>/dev/null

echo "== 2. embedded LocalCluster, runner killed twice"
export SPIKELIB_RESULTS="$OUT/local"
for delay in 50 45; do
  setsid $PY -m spikelib run --profile ci >>"$OUT/local-run.log" 2>&1 &
  RUNNER=$!
  sleep $delay
  echo "kill -9 runner after $delay s; finished runs so far:" \
    "$(find "$SPIKELIB_RESULTS" -path '*/runs/*/COMPLETE' | wc -l)"
  kill -9 $RUNNER
  sleep 3
  # The runner's LocalCluster workers lose their parent; count what is left.
  echo "  processes left behind: $(pgrep -f 'spikelib run --profile ci|distributed' | wc -l)"
  pkill -9 -f 'from multiprocessing' 2>/dev/null
  sleep 2
done
start=$(date +%s)
$PY -m spikelib run --profile ci >>"$OUT/local-run.log" 2>&1
echo "rerun exit status $? after $(( $(date +%s) - start )) s"
grep -a "^runs:" "$OUT/local-run.log" | tail -n 1

echo "== 3. same test MSE in both folders"
$PY - "$OUT" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])

def results(root):
    found = {}
    for path in root.glob("**/results.json"):
        if (path.parent / "COMPLETE").exists():
            data = json.loads(path.read_text())
            found[path.parent.name] = data
    return found

cluster, local = results(out / "cluster" / "ci"), results(out / "local" / "ci")
workers = {}
for data in cluster.values():
    worker = data.get("worker", "?")
    workers[worker] = workers.get(worker, 0) + 1
print(f"cluster: {len(cluster)} runs, by worker: {workers}")
print(f"local: {len(local)} runs")
same = [key for key in cluster if key in local
        and cluster[key]["test_mse"] == local[key]["test_mse"]]
differ = [key for key in cluster if key in local and key not in same]
print(f"equal test MSE: {len(same)} of {len(set(cluster) & set(local))} common runs; "
      f"differ: {differ}")
restarted = [key for key, data in local.items() if data.get("resumed_from_epoch")]
print(f"local runs resumed from a checkpoint: {len(restarted)}")
EOF
