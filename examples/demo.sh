#!/usr/bin/env bash
# The README's main job on the built-in example, on a fresh Debian 12
# machine: bootstrap a signed stage-0 repository from Debian's binary
# packages, build GNU hello 2.10 from its upstream source in a bubblewrap
# sandbox with no network, put it in an OCI image and run the image with
# runc. Everything goes to ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
REEF=${REEF:-./bin/reef}
OUT=${OUT:-out/demo}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
step() { printf '\n==> %s\n' "$*"; }

mkdir -p "$OUT"

step "stage 0: a signed repository from Debian's binary packages ($OUT/stage0)"
$REEF bootstrap --out "$OUT/stage0" >"$OUT/bootstrap.log"
tail -n 3 "$OUT/bootstrap.log"
STAGE0_KEY=$(ls "$OUT"/stage0/*.rsa.pub | head -n 1)
$REEF verify -k "$STAGE0_KEY" "$OUT/stage0/x86_64/APKINDEX.tar.gz"

step "upstream source: Debian's hello_2.10.orig.tar.gz (byte-identical to GNU's hello-2.10.tar.gz)"
SRC="$OUT/src"
mkdir -p "$SRC/parts" "$SRC/lists/partial" "$SRC/dl" "$OUT/cache"
cat >"$SRC/parts/debian-src.sources" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
APT="-qq -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$PWD/$SRC/parts -o Dir::State::Lists=$PWD/$SRC/lists -o APT::Sandbox::User=root"
[ -f "$SRC/dl/hello_2.10.orig.tar.gz" ] || {
	apt-get $APT update
	(cd "$SRC/dl" && apt-get $APT source --download-only hello)
}
SUM=$(sha256sum "$SRC/dl/hello_2.10.orig.tar.gz" | cut -d' ' -f1)
echo "sha256 $SUM"
# reef build looks up fetch artifacts in --cache-dir by checksum first.
cp "$SRC/dl/hello_2.10.orig.tar.gz" "$OUT/cache/sha256:$SUM"

step "build GNU hello from source, offline, against stage 0 (examples/hello.melange.yaml)"
[ -f "$OUT/reef-demo.rsa" ] || $REEF keygen "$OUT/reef-demo" >/dev/null
$REEF build examples/hello.melange.yaml --offline --arch x86_64 \
	--out-dir "$OUT/packages" --signing-key "$OUT/reef-demo.rsa" \
	-r "$OUT/stage0" -k "$STAGE0_KEY" --cache-dir "$OUT/cache" >"$OUT/build.log" 2>&1 ||
	{ tail -n 40 "$OUT/build.log"; exit 1; }
grep -E 'package written|build done' "$OUT/build.log" | sed 's/^time=[^ ]* //'
$REEF verify -k "$OUT/reef-demo.rsa.pub" "$OUT"/packages/x86_64/*.apk "$OUT/packages/x86_64/APKINDEX.tar.gz"
$REEF inspect --json "$OUT"/packages/x86_64/hello-2.10-r*.apk |
	grep -E '"(so:libc.so.6|cmd:hello=[^"]*)"' | sort -u

step "an OCI image with hello and busybox ($OUT/image)"
# The image file names no repositories: they are the ones just made (-r).
cat >"$OUT/hello.image.yaml" <<'IMAGE'
contents:
  packages: [hello, busybox]
entrypoint:
  command: /usr/bin/hello
accounts:
  groups: [{groupname: hello, gid: 1000}]
  users: [{username: hello, uid: 1000, gid: 1000}]
  run-as: hello
archs: [x86_64]
IMAGE
rm -rf "$OUT/image" && mkdir -p "$OUT/image"
$REEF image build "$OUT/hello.image.yaml" reef.local/hello:demo "$OUT/image" \
	-r "$OUT/packages" -r "$OUT/stage0" -k "$OUT/reef-demo.rsa.pub" -k "$STAGE0_KEY" \
	--sbom-path "$OUT/image" --cache-dir "$OUT/cache"

step "run the image with runc"
BUNDLE="$OUT/bundle"
rm -rf "$BUNDLE"
umoci unpack --rootless=false --image "$OUT/image:demo" "$BUNDLE" >/dev/null
# umoci asks for a terminal; this demo may run without one.
sed -i 's/"terminal": true/"terminal": false/' "$BUNDLE/config.json"
runc run --bundle "$BUNDLE" "reef-demo-$$"
echo
echo "demo OK: stage 0 in $OUT/stage0, hello in $OUT/packages, image in $OUT/image"
