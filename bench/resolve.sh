#!/usr/bin/env bash
# resolve.sh times a whole `reef resolve` process: build-base, python3,
# nginx and openssl-dev against Alpine 3.17 main for aarch64 (5,004
# packages), from a local repository directory, offline.
#
# The index is the shared fixture when this checkout sits beside it
# (../shared/fixtures), the file named by APKINDEX, or else downloaded from
# Alpine's mirror (whose 3.17 index has moved on since the fixture was
# taken, so plans may differ slightly). See lib.sh for REEF, RUNS, WARMUP
# and OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
setup_out
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" ${CLEAN_OUT:+"$CLEAN_OUT"}' EXIT
build_reef

mkdir -p "$WORK/repo/aarch64"
fixture=../shared/fixtures/alpine-3.17-main-aarch64/APKINDEX.tar.gz
if [ -n "${APKINDEX:-}" ]; then
	cp "$APKINDEX" "$WORK/repo/aarch64/APKINDEX.tar.gz"
elif [ -f "$fixture" ]; then
	cp "$fixture" "$WORK/repo/aarch64/APKINDEX.tar.gz"
else
	echo "downloading the Alpine 3.17 main aarch64 index" >&2
	fetch https://dl-cdn.alpinelinux.org/alpine/v3.17/main/aarch64/APKINDEX.tar.gz "$WORK/repo/aarch64/APKINDEX.tar.gz"
fi

args="resolve -r $WORK/repo --arch aarch64 --allow-untrusted --offline --cache-dir $WORK/cache --log-level error build-base python3 nginx openssl-dev"
n=$("$REEF" $args | wc -l)
echo "plan: $n packages" >&2
time_cmd resolve "$REEF" $args
# For scale: the same process doing nothing but start up and print help.
time_cmd startup "$REEF" --help
