package oci

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPublish(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host := u.Host // 127.0.0.1:port: plain HTTP without Insecure

	idx := buildTestIndex(t, LayerOptions{})
	want, _ := idx.Digest()
	refs := []string{host + "/reef/test:v1", host + "/reef/test:latest", host + "/other/repo:v1"}
	opts := PublishOptions{Keychain: authn.NewMultiKeychain()}
	got, err := Publish(context.Background(), idx, refs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Publish returned %s, index digest is %s", got, want)
	}

	// Every tag points at the index; every image is there by digest, and
	// pulled back byte for byte.
	for _, r := range refs {
		ref, _ := name.ParseReference(r)
		pulled, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		if d, _ := pulled.Digest(); d != want {
			t.Errorf("%s: digest %s, want %s", r, d, want)
		}
	}
	byDigest, err := remote.Index(mustRef(t, host+"/reef/test@"+want.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkIndex(t, byDigest); err != nil {
		t.Errorf("pulled index: %v", err)
	}
	for _, m := range mustIndexManifest(t, idx).Manifests {
		img, err := remote.Image(mustRef(t, host+"/other/repo@"+m.Digest.String()))
		if err != nil {
			t.Fatalf("pull image %s: %v", m.Digest, err)
		}
		if d, _ := img.Digest(); d != m.Digest {
			t.Errorf("image digest %s, want %s", d, m.Digest)
		}
	}

	// A single image, and a digest reference that matches.
	img, _ := idx.Image(mustIndexManifest(t, idx).Manifests[0].Digest)
	imgDigest, _ := img.Digest()
	if d, err := Publish(context.Background(), img, []string{host + "/single:v1", host + "/single@" + imgDigest.String()}, opts); err != nil || d != imgDigest {
		t.Errorf("publish image: %s, %v", d, err)
	}
	pulled, err := remote.Image(mustRef(t, host+"/single:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != imgDigest {
		t.Errorf("single image digest %s, want %s", d, imgDigest)
	}

	// Bad references fail before anything is pushed.
	if _, err := Publish(context.Background(), idx, []string{host + "/late:v1", "Not A Ref"}, opts); err == nil {
		t.Error("bad reference accepted")
	}
	if _, err := remote.Index(mustRef(t, host+"/late:v1")); err == nil {
		t.Error("something was pushed before a bad reference was refused")
	}
	if _, err := Publish(context.Background(), idx, []string{host + "/x@" + imgDigest.String()}, opts); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("mismatched digest reference: %v", err)
	}
	if _, err := Publish(context.Background(), idx, nil, opts); err == nil {
		t.Error("no references accepted")
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
