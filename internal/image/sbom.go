package image

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/reef-dev/reef/internal/repo"
	"github.com/reef-dev/reef/internal/sbom"
	"github.com/reef-dev/reef/internal/version"
)

// sbomInput is what the SBOM of one image needs from its tree.
type sbomInput struct {
	os       sbom.OSRelease
	embedded map[string]*sbom.Document
	raw      map[string][]byte // the embedded documents' bytes
}

var revisionSuffix = regexp.MustCompile(`-r[0-9]+$`)

// sbomInputs reads /etc/os-release and the SBOMs packages ship in
// /var/lib/db/sbom (as <name>-<version>, <name>-<version without -rN> or
// <name>.spdx.json).
func (b *build) sbomInputs(r *root, arch string, pkgs []resolvedPkg) (*sbomInput, error) {
	in := &sbomInput{embedded: map[string]*sbom.Document{}, raw: map[string][]byte{}}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := r.readFile(p)
		if err != nil || data == nil {
			continue
		}
		osr, err := sbom.ParseOSRelease(bytes.NewReader(data))
		if err != nil {
			b.warn("%s: %s: %v", arch, p, err)
			break
		}
		in.os = osr
		break
	}
	if in.os.ID == "" {
		b.log.Debug("image has no /etc/os-release: SBOM namespace unknown", "arch", arch)
	}
	for _, p := range pkgs {
		doc, raw, err := r.embeddedSBOM(p.pkg)
		if err != nil {
			b.warn("%s: %s: ignoring the SBOM it ships: %v", arch, p.pkg, err)
			continue
		}
		if doc != nil {
			in.embedded[p.pkg.Name] = doc
			in.raw[p.pkg.Name] = raw
		}
	}
	return in, nil
}

// embeddedSBOM finds and parses the SBOM a package ships.
func (r *root) embeddedSBOM(p *repo.Package) (*sbom.Document, []byte, error) {
	base := "/var/lib/db/sbom/"
	for _, name := range []string{
		p.Name + "-" + p.Version + ".spdx.json",
		p.Name + "-" + revisionSuffix.ReplaceAllString(p.Version, "") + ".spdx.json",
		p.Name + ".spdx.json",
	} {
		data, err := r.readFile(base + name)
		if err != nil || data == nil {
			continue
		}
		doc, err := sbom.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s%s: %w", base, name, err)
		}
		return doc, data, nil
	}
	return nil, nil, nil
}

// sbomPackages converts the installed packages, with the names each
// depends on among them.
func sbomPackages(pkgs []*repo.Package) []sbom.Package {
	provider := map[string]string{}
	for _, p := range pkgs {
		provider[p.Name] = p.Name
	}
	for _, p := range pkgs {
		for _, pr := range p.Provides {
			if d, err := version.ParseDep(pr); err == nil {
				if _, ok := provider[d.Name]; !ok {
					provider[d.Name] = p.Name
				}
			}
		}
	}
	out := make([]sbom.Package, len(pkgs))
	for i, p := range pkgs {
		sp := sbom.Package{
			Name: p.Name, Version: p.Version, Arch: p.Arch, Origin: p.Origin,
			License: p.License, Description: p.Description, URL: p.URL,
			Identity: p.Checksum,
		}
		if p.BuildTime > 0 {
			sp.BuildDate = time.Unix(p.BuildTime, 0).UTC()
		}
		seen := map[string]bool{}
		for _, d := range p.Depends {
			dep, err := version.ParseDep(d)
			if err != nil || dep.Conflict {
				continue
			}
			if n, ok := provider[dep.Name]; ok && n != p.Name && !seen[n] {
				seen[n] = true
				sp.Depends = append(sp.Depends, n)
			}
		}
		out[i] = sp
	}
	return out
}

// sboms makes the per-architecture and index SBOMs of res.
func (b *build) sboms(res *Result) error {
	var images []sbom.IndexImage
	for _, ai := range res.Images {
		in := ai.sbomIn
		if in == nil {
			continue
		}
		var layers []string
		for _, l := range ai.Layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			layers = append(layers, d.String())
		}
		doc, err := sbom.ForImage(sbom.ImageInput{
			Ref:      b.opts.Ref,
			Digest:   ai.Digest.String(),
			Arch:     ai.Arch,
			OS:       in.os,
			Packages: sbomPackages(ai.Packages),
			Embedded: in.embedded,
			Layers:   layers,
			Created:  res.Created,
		})
		if err != nil {
			return fmt.Errorf("%s: SBOM: %w", ai.Arch, err)
		}
		data, err := doc.MarshalIndent()
		if err != nil {
			return err
		}
		res.SBOMs["sbom-"+ai.Arch+".spdx.json"] = data
		images = append(images, sbom.IndexImage{Digest: ai.Digest.String(), Arch: ai.Arch, SBOM: doc})
	}
	dig, err := res.Index.Digest()
	if err != nil {
		return err
	}
	doc, err := sbom.ForIndex(sbom.IndexInput{Ref: b.opts.Ref, Digest: dig.String(), Images: images, Created: res.Created})
	if err != nil {
		return fmt.Errorf("index SBOM: %w", err)
	}
	data, err := doc.MarshalIndent()
	if err != nil {
		return err
	}
	res.SBOMs["sbom-index.spdx.json"] = data
	return nil
}
