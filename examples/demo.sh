#!/usr/bin/env bash
# The README's main job on the built-in example: bootstrap a signed stage-0
# repository from real Debian packages, verify it, resolve against it and
# install into a root directory. Output goes to ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
REEF=${REEF:-./bin/reef}
OUT=${OUT:-out/demo}
DEBS="busybox-static hello libc6 libgcc-s1 gcc-12-base"

rm -rf "$OUT" && mkdir -p "$OUT/debs" "$OUT/repo"
echo "==> fetching Debian packages: $DEBS"
# apt-get download needs package lists; a fresh machine may have none.
apt-cache show hello >/dev/null 2>&1 || apt-get update -qq
(cd "$OUT/debs" && apt-get -q -o APT::Sandbox::User=root download $DEBS >/dev/null)

echo "==> generating a signing key"
$REEF keygen "$OUT/reef-demo" >/dev/null

echo "==> importing .deb → signed .apk repository ($OUT/repo)"
$REEF import-deb --out "$OUT/repo" --signing-key "$OUT/reef-demo.rsa" "$OUT"/debs/*.deb

echo "==> verifying every package and the index"
$REEF verify -k "$OUT/reef-demo.rsa.pub" "$OUT"/repo/x86_64/*.apk "$OUT/repo/x86_64/APKINDEX.tar.gz"

echo "==> resolving hello busybox-static"
$REEF resolve -r "$OUT/repo" -k "$OUT/reef-demo.rsa.pub" --arch x86_64 hello busybox-static

echo "==> installing into $OUT/root"
$REEF install --root "$OUT/root" -r "$OUT/repo" -k "$OUT/reef-demo.rsa.pub" --arch x86_64 hello busybox-static
echo "==> running the installed hello in a bubblewrap sandbox"
bwrap --bind "$OUT/root" / --proc /proc --dev /dev --unshare-all /usr/bin/hello
echo "demo OK: repository $OUT/repo, root $OUT/root"
