#!/usr/bin/env bash
# index.sh times a whole `reef index` process over N small signed packages
# (default 1,000) that bench/gen writes, checking every signature, datahash
# and file checksum and writing the signed index, and reports packages per
# second of wall time and per CPU-second.
#
#   N=1000 ./bench/index.sh
#
# The packages are generated once into $PKGS (default: a temporary
# directory); set PKGS to keep them between runs. See lib.sh for REEF,
# RUNS, WARMUP and OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
RUNS=${RUNS:-10}
. bench/lib.sh
setup_out
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" ${CLEAN_OUT:+"$CLEAN_OUT"}' EXIT
build_reef

PKGS=${PKGS:-$WORK/pkgs}
if [ "$(find "$PKGS" -maxdepth 1 -name '*.apk' 2>/dev/null | wc -l)" -ne "$N" ]; then
	rm -rf "$PKGS"
	go run ./bench/gen -n "$N" -o "$PKGS" >&2
fi

time_cmd index "$REEF" index -o "$WORK/APKINDEX.tar.gz" --signing-key "$PKGS/bench.rsa" "$PKGS"/*.apk
awk -v n="$N" -v w="$WALL" -v c="$CPU" 'BEGIN {printf "index      %.0f packages/s (wall), %.0f packages per CPU-second\n", n / w, n / c}'
