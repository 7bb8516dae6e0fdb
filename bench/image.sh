#!/usr/bin/env bash
# image.sh times whole `reef image build` processes on the image of
# issue 4's benchmark: python3.11, perl-base, coreutils, curl and libc-bin
# with their dependencies (about 60 Debian 12 packages, ~100 MB installed),
# converted to a signed apk repository with `reef import-deb`. The image
# is written as a docker tarball.
#
#   cold: an empty cache (--cache-dir emptied before each run)
#   warm: the cache of an earlier build (compressed layers reused)
#
# The .debs are downloaded once with apt-get into DEBS (default
# ~/.cache/reef-tests/debs, shared with the Go tests). See lib.sh for REEF,
# RUNS, WARMUP and OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
setup_out
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" ${CLEAN_OUT:+"$CLEAN_OUT"}' EXIT
build_reef

world="python3.11 perl-base coreutils curl libc-bin"
DEBS=${DEBS:-${XDG_CACHE_HOME:-$HOME/.cache}/reef-tests/debs}
mkdir -p "$DEBS"
# The closure as apt computes it (every alternative included: a superset
# of what the resolver picks).
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances $world | grep -v '^[ <]' | sort -u)
debs=()
missing=()
for n in $closure; do
	f=$(ls "$DEBS/${n}_"*.deb 2>/dev/null | sort | tail -1 || true)
	if [ -n "$f" ]; then debs+=("$f"); else missing+=("$n"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
	(cd "$DEBS" && apt-get download -q "${missing[@]}") >&2
	for n in "${missing[@]}"; do debs+=("$(ls "$DEBS/${n}_"*.deb | sort | tail -1)"); done
fi

"$REEF" keygen "$WORK/bench" >/dev/null
key=$WORK/bench.rsa
"$REEF" import-deb --log-level error --out "$WORK/repo" --signing-key "$key" "${debs[@]}" >/dev/null
cat >"$WORK/image.yaml" <<YAML
contents:
  repositories: [$WORK/repo]
  keyring: [$key.pub]
  packages: [$(echo $world | sed 's/ /, /g')]
archs: [x86_64]
accounts:
  users: [{username: app, uid: 1000}]
  run-as: app
entrypoint:
  command: /usr/bin/python3.11
YAML

build="$REEF image build --log-level error --cache-dir $WORK/cache $WORK/image.yaml bench:latest $WORK/image.tar"
export SOURCE_DATE_EPOCH=1700000000
$build
echo "image: $(du -m "$WORK/image.tar" | cut -f1) MB tarball, $(ls "$WORK/repo/x86_64" | grep -c '\.apk$') packages in the repository" >&2

if [ "${BENCH_TOOL:-}" != time ] && command -v hyperfine >/dev/null; then
	# hyperfine empties the cache before each cold run.
	csv=$OUT/cold.csv
	hyperfine --style basic --warmup 1 --runs "$RUNS" --prepare "rm -rf $WORK/cache" \
		--export-csv "$csv" -n cold "$build" >&2
	WALL=$(awk -F, 'NR == 2 {print $4}' "$csv")
	CPU=$(awk -F, 'NR == 2 {print $5 + $6}' "$csv")
	printf '%-10s wall median %.3f s   CPU (user+sys) mean %.3f s   (%d runs)\n' cold "$WALL" "$CPU" "$RUNS"
else
	echo "bench: cold runs need hyperfine (--prepare empties the cache)" >&2
fi
$build
time_cmd warm $build
