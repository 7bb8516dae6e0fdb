# Shared helpers for the bench/ scripts; source it from the repository root.
#
# Environment:
#   REEF     reef binary to time (default: bin/reef, built with `make build`)
#   RUNS     timed runs per command (default 20)
#   WARMUP   untimed runs first (default 3)
#   BENCH_TOOL=time  use GNU time even if hyperfine is installed
#   OUT      directory for result files (default: a temporary directory,
#            removed at the end)

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}

# build_reef builds bin/reef unless REEF names a binary already.
build_reef() {
	if [ -z "${REEF:-}" ]; then
		make -s build >&2
		REEF=$PWD/bin/reef
	fi
	[ -x "$REEF" ] || { echo "bench: $REEF is not executable" >&2; exit 1; }
	echo "reef: $REEF" >&2
}

# fetch URL FILE downloads URL to FILE with curl or wget.
fetch() {
	if command -v curl >/dev/null; then
		curl -fsSL -o "$2" "$1"
	elif command -v wget >/dev/null; then
		wget -q -O "$2" "$1"
	else
		echo "bench: need curl or wget to download $1" >&2
		return 1
	fi
}

# median reads numbers, one a line, and prints their median.
median() {
	sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# time_cmd NAME CMD... times CMD (a simple command: words split on
# whitespace, no shell syntax) and sets WALL (median wall-clock seconds) and
# CPU (mean user+system CPU seconds of the process). It uses hyperfine when
# installed and a loop over GNU time otherwise. CPU time is the steadier
# figure on a shared, loaded machine: waiting for a CPU does not count.
time_cmd() {
	local name=$1
	shift
	local csv=$OUT/$name.csv
	if [ "${BENCH_TOOL:-}" != time ] && command -v hyperfine >/dev/null; then
		local shellopt=()
		hyperfine --help 2>/dev/null | grep -q -- '--shell' && shellopt=(--shell=none)
		hyperfine "${shellopt[@]}" --style basic --warmup "$WARMUP" --runs "$RUNS" \
			--export-csv "$csv" -n "$name" "$*" >&2
		# command,mean,stddev,median,user,system,min,max
		WALL=$(awk -F, 'NR == 2 {print $4}' "$csv")
		CPU=$(awk -F, 'NR == 2 {print $5 + $6}' "$csv")
	else
		local timebin=/usr/bin/time
		[ -x "$timebin" ] || { echo "bench: install hyperfine or GNU time" >&2; exit 1; }
		local i
		for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1; done
		: >"$csv"
		for ((i = 0; i < RUNS; i++)); do
			"$timebin" -f '%e %U %S' -o "$csv.run" "$@" >/dev/null 2>&1 ||
				{ echo "bench: $name failed: $*" >&2; exit 1; }
			cat "$csv.run" >>"$csv"
		done
		rm -f "$csv.run"
		WALL=$(awk '{print $1}' "$csv" | median)
		CPU=$(awk '{t += $2 + $3} END {print t / NR}' "$csv")
	fi
	printf '%-10s wall median %.3f s   CPU (user+sys) mean %.3f s   (%d runs)\n' "$name" "$WALL" "$CPU" "$RUNS"
}

setup_out() {
	if [ -z "${OUT:-}" ]; then
		OUT=$(mktemp -d)
		CLEAN_OUT=$OUT
	fi
	mkdir -p "$OUT"
}
