// Package oci is the output side of reef's image builder: it turns tar
// streams into compressed layers, layers into OCI images and a
// multi-platform index, and writes that index as an OCI image layout, as a
// docker-loadable archive, or to registries. It builds on
// go-containerregistry's v1 interfaces: a *Layer is a v1.Layer, NewImage
// returns a v1.Image and NewIndex a v1.ImageIndex, so foreign layers and
// images (a base image read with go-containerregistry) mix freely with
// reef's own.
//
// # Flow
//
//	l, _ := oci.NewLayer(func(w io.Writer) error { ... write a tar ... }, oci.LayerOptions{})
//	p, _ := oci.OCIPlatform("x86_64")
//	img, _ := oci.NewImage([]v1.Layer{l}, cfg, p, annotations)
//	idx, _ := oci.NewIndex([]v1.Image{img, ...}, annotations)
//	oci.WriteLayout(dir, idx, oci.LayoutOptions{Tag: "latest"})  // or
//	oci.WriteTarball(path, tag, idx)                             // or
//	oci.Publish(ctx, idx, refs, oci.PublishOptions{})
//
// # Speed
//
// A layer is compressed while its tar is written, with no disk round trip:
// the tar stream is split into BlockSize blocks that are deflated in
// parallel (klauspost/pgzip), and the diffID and digest are hashed in the
// same pass. The compressed bytes are kept (in memory by default, in an
// unlinked temporary file with LayerOptions.TempDir, or in a Cache) so
// that every output reuses them. A Cache keeps compressed layers across
// builds, keyed by diffID or by a caller-given key of the layer's inputs.
//
// # Determinism
//
// Outputs are functions of their inputs, never of the clock, the host or
// the number of CPUs:
//
//   - gzip: fixed level and block size; every block is compressed alone
//     (primed with the previous block's tail), so the number of blocks in
//     flight does not matter; header without file name, time 0, OS 255.
//   - config, manifest and index: fixed field order, sorted maps, created
//     time from ImageConfig.Created (derived from SOURCE_DATE_EPOCH by the
//     caller), second precision, UTC.
//   - index entries sorted by architecture and variant.
//   - archives: fixed entry order, owner root, time 0.
//
// The digests also depend on the versions of klauspost/compress and pgzip;
// the tests hold golden digests that catch a change.
//
// # Outputs
//
// WriteLayout writes an OCI image layout whose index.json has one entry,
// the image index, named by LayoutOptions.Tag; WriteTarball writes the
// same layout plus docker's manifest.json into one tar, like `docker save`
// since Docker 25; Publish pushes images by digest and then the index to
// every tag. All file outputs are written to temporary names, synced and
// renamed, index.json last. What the tools make of them (the tests run
// all but docker, which has no daemon here):
//
//	skopeo inspect oci:DIR, oci:DIR:TAG      the index (host platform)
//	skopeo copy --all oci:DIR:TAG ...        the index, same digest
//	skopeo inspect oci-archive:TAR[:TAG]     the index
//	skopeo inspect docker-archive:TAR        single platform only; with
//	                                         several, docker-archive:TAR:REPO:TAG-ARCH
//	docker load -i TAR                       every platform as TAG-ARCH (or
//	                                         TAG for one platform)
//	umoci unpack --image DIR:TAG             single platform only; with several,
//	                                         LayoutOptions.PlatformTags and DIR:TAG-ARCH
//
// Architectures: OCIPlatform and APKArch map apk names (x86_64, aarch64,
// armv7, armhf, x86, ppc64le, s390x, riscv64, loongarch64) to OCI
// platforms and back.
package oci
