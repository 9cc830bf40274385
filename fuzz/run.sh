#!/usr/bin/env bash
# Coverage-guided fuzzing of newsmesh's parsers with AFL++ (cargo-afl, stable Rust).
#
#   fuzz/run.sh [SECONDS]     fuzz every target for SECONDS (default 60) each
#   FUZZ_TARGETS="article rnews" fuzz/run.sh 600    only these targets
#   FUZZ_JOBS=1 fuzz/run.sh   how many targets run at once (default: CPU count)
#
# Installs cargo-afl (which builds AFL++) if it is missing, builds the targets in
# fuzz/src/bin/, runs each from its seed corpus fuzz/corpus/<target>/ for the time
# given, and exits 1 if any input crashed or hung a target, naming the files that did.
# A finding becomes a unit test beside the parser; see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
case "$seconds" in '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;; esac
all_targets="article command mesh response line block rnews config invite reconcile"
read -r -a targets <<<"${FUZZ_TARGETS:-$all_targets}"
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
out=out
AFL_VERSION=0.18.2 # keep in step with the `afl` crate in Cargo.lock

log() { echo "fuzz: $*"; }

# AFL++ is built from source by cargo-afl: it needs make and a C compiler.
if ! command -v make >/dev/null || ! command -v cc >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing make and a C compiler (build-essential)"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential >/dev/null
  else
    log "make and a C compiler are needed to build AFL++"; exit 1
  fi
fi
if ! cargo afl --version 2>/dev/null | grep -q "cargo-afl $AFL_VERSION"; then
  log "installing cargo-afl $AFL_VERSION (builds AFL++)"
  cargo install cargo-afl --version "$AFL_VERSION" --locked --force
fi
# AFL++ is built per rustc version; `--build` refuses (harmlessly) when it already is.
config_log=$(mktemp)
if ! cargo afl config --build >"$config_log" 2>&1 && ! grep -q "already built" "$config_log"; then
  cat "$config_log"; rm -f "$config_log"; exit 1
fi
rm -f "$config_log"

log "building targets: ${targets[*]}"
# Not --locked: a dependency newsmesh gains must not break this build; Cargo.lock here
# still pins afl and what it already lists.
cargo afl build --release --bins

# Containers (CI) have no CPU frequency control and often pipe core dumps elsewhere;
# other processes may hold every core, so do not pin to one.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_NO_AFFINITY=1 AFL_FAST_CAL=1 AFL_QUIET=1

fuzz_one() {
  local target=$1
  rm -rf "${out:?}/$target"
  mkdir -p "$out/$target"
  # -t: ms per input (generous: these parsers take microseconds; anything slower is a
  # finding). The outer timeout only guards against afl-fuzz itself not stopping.
  timeout $((seconds + 300)) cargo afl fuzz -V "$seconds" -t 2000 \
    -i "corpus/$target" -o "$out/$target" "target/release/$target" \
    >"$out/$target.log" 2>&1
}

mkdir -p "$out"
failed=0
running=()
for target in "${targets[@]}"; do
  [ -d "corpus/$target" ] || { log "no corpus/$target"; exit 2; }
  fuzz_one "$target" &
  running+=("$!:$target")
  if [ "${#running[@]}" -ge "$jobs" ]; then
    pid=${running[0]%%:*}
    wait "$pid" || { log "afl-fuzz failed for ${running[0]#*:}:"; tail -20 "$out/${running[0]#*:}.log"; failed=1; }
    running=("${running[@]:1}")
  fi
done
for entry in "${running[@]}"; do
  wait "${entry%%:*}" || { log "afl-fuzz failed for ${entry#*:}:"; tail -20 "$out/${entry#*:}.log"; failed=1; }
done

stat() { sed -n "s/^$1 *: *//p" "$2" 2>/dev/null; }
for target in "${targets[@]}"; do
  stats="$out/$target/default/fuzzer_stats"
  log "$target: execs=$(stat execs_done "$stats") corpus=$(stat corpus_count "$stats")" \
    "edges=$(stat edges_found "$stats")/$(stat total_edges "$stats")" \
    "crashes=$(stat saved_crashes "$stats") hangs=$(stat saved_hangs "$stats")"
  for kind in crashes hangs; do
    found=$(find "$out/$target/default/$kind" -type f -name 'id:*' 2>/dev/null || true)
    if [ -n "$found" ]; then
      log "$target: $kind found (reproduce: fuzz/target/release/$target < FILE):"
      printf '  fuzz/%s\n' $found
      failed=1
    fi
  done
done
if [ "$failed" != 0 ]; then
  log "FAILED"
  exit 1
fi
log "no crashes or hangs in ${#targets[@]} targets x ${seconds}s"
