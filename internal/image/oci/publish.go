package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact is what Publish pushes: a v1.ImageIndex (normally) or a single
// v1.Image.
type Artifact interface {
	Digest() (v1.Hash, error)
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}

// PublishOptions configures Publish.
type PublishOptions struct {
	// Keychain resolves registry credentials; nil means
	// authn.DefaultKeychain (docker's config.json and credential helpers).
	Keychain authn.Keychain

	// Insecure allows plain HTTP and unverified TLS for every registry.
	// Registries on localhost, 127.0.0.1 and private networks use plain
	// HTTP without it.
	Insecure bool

	// Transport, if set, carries the requests (for tests and proxies).
	Transport http.RoundTripper

	// Jobs bounds the blobs uploaded at once; zero means 4.
	Jobs int

	// UserAgent is sent with every request; empty means "reef".
	UserAgent string
}

// Publish pushes a to every reference in refs and returns its digest.
// For an index, each image (its layers, config and manifest) is pushed by
// digest first and the index last, so a tag never points at missing
// content; blobs and manifests already in a repository are not uploaded
// again. refs are tags ("reg/repo:tag") or digests ("reg/repo@sha256:..."),
// which must be a's digest. All references are parsed before anything is
// pushed.
func Publish(ctx context.Context, a Artifact, refs []string, opts PublishOptions) (v1.Hash, error) {
	digest, err := a.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	switch a.(type) {
	case v1.ImageIndex, v1.Image:
	default:
		return v1.Hash{}, fmt.Errorf("publish: %T is neither an image nor an index", a)
	}
	if len(refs) == 0 {
		return v1.Hash{}, errors.New("publish: no image reference given")
	}
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	parsed := make([]name.Reference, 0, len(refs))
	for _, r := range refs {
		ref, err := name.ParseReference(r, nameOpts...)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("publish: %w", err)
		}
		if d, ok := ref.(name.Digest); ok && d.DigestStr() != digest.String() {
			return v1.Hash{}, fmt.Errorf("publish: %s: the image's digest is %s", r, digest)
		}
		parsed = append(parsed, ref)
	}

	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "reef"
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	tr := opts.Transport
	if tr == nil && opts.Insecure {
		base, ok := remote.DefaultTransport.(*http.Transport)
		if !ok {
			base = http.DefaultTransport.(*http.Transport)
		}
		t := base.Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with Insecure
		tr = t
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent(ua),
		remote.WithJobs(jobs),
	}
	if tr != nil {
		ropts = append(ropts, remote.WithTransport(tr))
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("publish: %w", err)
	}
	for _, ref := range parsed {
		if err := pusher.Push(ctx, ref, a); err != nil {
			return v1.Hash{}, fmt.Errorf("publish %s: %w", ref, err)
		}
	}
	return digest, nil
}
