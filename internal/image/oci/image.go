package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageConfig is the part of an OCI image configuration that the image file
// controls. Lists are written in the order given: sorting (apko sorts Env)
// is the caller's job.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // "KEY=value"
	User       string   // "uid", "uid:gid" or a name from /etc/passwd
	WorkingDir string   // absolute
	StopSignal string   // e.g. "SIGTERM"
	Volumes    []string // absolute paths
	Labels     map[string]string

	// Created is the image's creation time, normally derived from
	// SOURCE_DATE_EPOCH; never the clock. The zero value means Unix 0.
	// It is written with second precision, in UTC.
	Created time.Time

	// Author is the config's author field, e.g. "github.com/reef-dev/reef".
	Author string

	// History describes how each layer was made. If empty, every layer
	// gets an entry {Created, Author, CreatedBy: "reef"}. Otherwise it
	// must hold one entry per layer, plus any entries marked EmptyLayer.
	History []History
}

// History is one entry of an image's history.
type History struct {
	Created    time.Time // zero means ImageConfig.Created
	CreatedBy  string
	Author     string
	Comment    string
	EmptyLayer bool // the entry made no layer (e.g. a config change)
}

// configFile is the OCI image configuration as written. Fields are in a
// fixed order and maps are sorted by encoding/json, so the bytes are a
// function of the inputs.
type configFile struct {
	Architecture string          `json:"architecture"`
	Author       string          `json:"author,omitempty"`
	Created      string          `json:"created"`
	History      []historyJSON   `json:"history,omitempty"`
	OS           string          `json:"os"`
	OSVersion    string          `json:"os.version,omitempty"`
	OSFeatures   []string        `json:"os.features,omitempty"`
	Variant      string          `json:"variant,omitempty"`
	RootFS       rootFS          `json:"rootfs"`
	Config       containerConfig `json:"config"`
}

type historyJSON struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Author     string `json:"author,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

type rootFS struct {
	Type    string    `json:"type"`
	DiffIDs []v1.Hash `json:"diff_ids"`
}

type containerConfig struct {
	User       string              `json:"User,omitempty"`
	Env        []string            `json:"Env,omitempty"`
	Entrypoint []string            `json:"Entrypoint,omitempty"`
	Cmd        []string            `json:"Cmd,omitempty"`
	Volumes    map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir string              `json:"WorkingDir,omitempty"`
	Labels     map[string]string   `json:"Labels,omitempty"`
	StopSignal string              `json:"StopSignal,omitempty"`
}

// image is an image built by NewImage; everything is computed up front.
type image struct {
	layers      []v1.Layer
	manifest    *v1.Manifest
	rawManifest []byte
	rawConfig   []byte
	digest      v1.Hash
	platform    v1.Platform
}

var _ v1.Image = (*image)(nil)

// NewImage assembles an OCI image (manifest media type
// application/vnd.oci.image.manifest.v1+json, config
// application/vnd.oci.image.config.v1+json) from layers, bottom first, for
// platform (see OCIPlatform). annotations go into the manifest. Layers may
// be any v1.Layer, not only those of NewLayer.
func NewImage(layers []v1.Layer, cfg ImageConfig, platform v1.Platform, annotations map[string]string) (v1.Image, error) {
	if platform.Architecture == "" {
		return nil, fmt.Errorf("image: platform has no architecture")
	}
	if platform.OS == "" {
		platform.OS = "linux"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	created := timeString(cfg.Created)

	cf := configFile{
		Architecture: platform.Architecture,
		Author:       cfg.Author,
		Created:      created,
		OS:           platform.OS,
		OSVersion:    platform.OSVersion,
		OSFeatures:   platform.OSFeatures,
		Variant:      platform.Variant,
		RootFS:       rootFS{Type: "layers", DiffIDs: []v1.Hash{}},
		Config: containerConfig{
			User:       cfg.User,
			Env:        cfg.Env,
			Entrypoint: cfg.Entrypoint,
			Cmd:        cfg.Cmd,
			WorkingDir: cfg.WorkingDir,
			Labels:     cfg.Labels,
			StopSignal: cfg.StopSignal,
		},
	}
	if len(cfg.Volumes) > 0 {
		cf.Config.Volumes = map[string]struct{}{}
		for _, v := range cfg.Volumes {
			cf.Config.Volumes[v] = struct{}{}
		}
	}

	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Layers:        []v1.Descriptor{},
		Annotations:   annotations,
	}
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("image: layer %d: %w", i, err)
		}
		d, err := partialDescriptor(l)
		if err != nil {
			return nil, fmt.Errorf("image: layer %d: %w", i, err)
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
		m.Layers = append(m.Layers, d)
	}

	hist := cfg.History
	if len(hist) == 0 {
		for range layers {
			hist = append(hist, History{Author: cfg.Author, CreatedBy: "reef"})
		}
	}
	nonEmpty := 0
	for _, h := range hist {
		if !h.EmptyLayer {
			nonEmpty++
		}
		hc := created
		if !h.Created.IsZero() {
			hc = timeString(h.Created)
		}
		cf.History = append(cf.History, historyJSON{
			Created: hc, CreatedBy: h.CreatedBy, Author: h.Author,
			Comment: h.Comment, EmptyLayer: h.EmptyLayer,
		})
	}
	if nonEmpty != len(layers) {
		return nil, fmt.Errorf("image: history has %d entries for layers, want one per layer (%d)", nonEmpty, len(layers))
	}

	rawConfig, err := json.Marshal(cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cfgHash, _, err := v1.SHA256(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawConfig)), Digest: cfgHash}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, err
	}
	return &image{
		layers:      append([]v1.Layer(nil), layers...),
		manifest:    m,
		rawManifest: rawManifest,
		rawConfig:   rawConfig,
		digest:      digest,
		platform:    platform,
	}, nil
}

func (cfg *ImageConfig) validate() error {
	for _, e := range cfg.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("image config: environment entry %q is not KEY=value", e)
		}
	}
	if cfg.WorkingDir != "" && !path.IsAbs(cfg.WorkingDir) {
		return fmt.Errorf("image config: work-dir %q is not an absolute path", cfg.WorkingDir)
	}
	for _, v := range cfg.Volumes {
		if !path.IsAbs(v) {
			return fmt.Errorf("image config: volume %q is not an absolute path", v)
		}
	}
	return nil
}

// timeString formats t as the OCI config does: RFC 3339 in UTC, seconds.
func timeString(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// partialDescriptor returns the manifest descriptor of a layer.
func partialDescriptor(l v1.Layer) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := l.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: d}, nil
}

func (i *image) Layers() ([]v1.Layer, error)         { return append([]v1.Layer(nil), i.layers...), nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) Size() (int64, error)                { return int64(len(i.rawManifest)), nil }
func (i *image) ConfigName() (v1.Hash, error)        { return i.manifest.Config.Digest, nil }
func (i *image) RawConfigFile() ([]byte, error)      { return i.rawConfig, nil }
func (i *image) Digest() (v1.Hash, error)            { return i.digest, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.rawManifest, nil }
func (i *image) Manifest() (*v1.Manifest, error)     { return i.manifest.DeepCopy(), nil }
func (i *image) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.rawConfig))
}
func (i *image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("image %s: no layer with digest %s", i.digest, h)
}

func (i *image) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if d, err := l.DiffID(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("image %s: no layer with diffID %s", i.digest, h)
}
