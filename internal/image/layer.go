package image

import (
	"archive/tar"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/image/oci"
	"github.com/reef-dev/reef/internal/install"
	"github.com/reef-dev/reef/internal/version"
)

// installedDBPath is where the installed database is (apko's layout).
const installedDBPath = "usr/lib/apk/db/installed"

// layerSpec says what goes into one layer.
type layerSpec struct {
	// Name describes the layer in the image history.
	Name string
	// Packages are the installed packages whose files the layer holds
	// (none for the top layer).
	Packages []*install.InstalledPackage
	// files are the real paths of the non-directory entries the layer
	// holds; nil for the top layer, which holds everything no other layer
	// does and every directory.
	files map[string]bool
	// idb is the layer's partial installed database (package layers).
	idb []byte
	// size is the installed size of the packages, for ordering.
	size uint64
}

// planLayers splits the tree into layers by the origin strategy: packages
// grouped by origin (groups linked by replaces merged), the budget-1
// largest groups one layer each, the other packages one more layer, and
// on top a layer for everything else (directories, files no package owns,
// files changed after install). With layering off it returns one layer.
func (r *root) planLayers(l *Layering, pkgs []*install.InstalledPackage) ([]*layerSpec, error) {
	if l == nil || l.Strategy == "" || len(pkgs) == 0 {
		return []*layerSpec{{Name: "reef"}}, nil
	}
	// Union-find over packages by origin and replaces.
	parent := make([]int, len(pkgs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra != rb {
			if ra > rb {
				ra, rb = rb, ra
			}
			parent[rb] = ra
		}
	}
	byOrigin := map[string]int{}
	byName := map[string]int{}
	for i, p := range pkgs {
		byName[p.Name] = i
		o := cmp.Or(p.Origin, p.Name)
		if j, ok := byOrigin[o]; ok {
			union(i, j)
		} else {
			byOrigin[o] = i
		}
	}
	for i, p := range pkgs {
		for _, rep := range p.Replaces {
			d, err := version.ParseDep(rep)
			if err != nil {
				continue
			}
			if j, ok := byName[d.Name]; ok {
				union(i, j)
			}
		}
	}
	groups := map[int]*layerSpec{}
	var order []*layerSpec
	for i, p := range pkgs {
		g := find(i)
		ls := groups[g]
		if ls == nil {
			ls = &layerSpec{Name: "origin " + cmp.Or(pkgs[g].Origin, pkgs[g].Name), files: map[string]bool{}}
			groups[g] = ls
			order = append(order, ls)
		}
		ls.Packages = append(ls.Packages, p)
		ls.size += p.InstalledSize
	}
	slices.SortStableFunc(order, func(a, b *layerSpec) int {
		if a.size != b.size {
			return cmp.Compare(b.size, a.size)
		}
		return strings.Compare(a.Name, b.Name)
	})
	keep := l.Budget - 1
	if keep < len(order) {
		rest := &layerSpec{Name: "other packages", files: map[string]bool{}}
		for _, g := range order[keep:] {
			rest.Packages = append(rest.Packages, g.Packages...)
			rest.size += g.size
		}
		order = append(order[:keep], rest)
	}
	for _, ls := range order {
		for _, p := range ls.Packages {
			for _, d := range p.Dirs {
				for _, f := range d.Files {
					name := f.Name
					if d.Path != "" {
						name = d.Path + "/" + f.Name
					}
					real, err := install.ResolveParent(r.fs, name)
					if err != nil {
						return nil, err
					}
					if !r.touched[real] {
						ls.files[real] = true
					}
				}
			}
		}
		// Each package layer carries the database records of its own
		// packages, for scanners that read layers one by one.
		idb := slices.Clone(ls.Packages)
		install.SortInstalled(idb)
		var b bytes.Buffer
		if err := install.WriteInstalled(&b, idb); err != nil {
			return nil, err
		}
		ls.idb = b.Bytes()
	}
	return append(order, &layerSpec{Name: "reef: accounts, paths, configuration and directories"}), nil
}

// writeLayer writes the tar stream of one layer: the tree's entries in
// walk order (sorted, parents first) that the spec selects, with owners,
// modes, times and xattrs as in the tree and user and group names from
// the image's passwd and group. assigned holds the files of all package
// layers (nil without layering), so the top layer can leave them out.
func (r *root) writeLayer(w io.Writer, ls *layerSpec, assigned map[string]bool, names *idNames) error {
	tw := oci.NewTarWriter(w)
	written := map[string]bool{} // regular files written in this layer
	dbReal := ""
	if ls.files != nil {
		var err error
		if dbReal, err = install.Resolve(r.fs, installedDBPath); err != nil {
			return err
		}
	}
	// Directories of a package layer are those leading to its files.
	var dirs map[string]bool
	if ls.files != nil {
		dirs = map[string]bool{}
		for f := range ls.files {
			for d := path.Dir(f); d != "." && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
		if ls.idb != nil {
			for d := path.Dir(dbReal); d != "." && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
	}
	err := r.fs.Walk(func(e *install.Entry, data []byte) error {
		switch {
		case ls.files == nil: // top layer
			if e.Type != install.TypeDir && assigned[e.Name] {
				return nil
			}
		case e.Type == install.TypeDir:
			if !dirs[e.Name] {
				return nil
			}
		case e.Name == dbReal:
			if ls.idb == nil {
				return nil
			}
			e.Type, e.Linkname, e.Size = install.TypeReg, "", int64(len(ls.idb))
			data = ls.idb
		default:
			if !ls.files[e.Name] {
				return nil
			}
		}
		if e.Type == install.TypeLink && !written[e.Linkname] {
			// The first name is in another layer: store the content.
			d, err := r.fs.ReadFile(e.Linkname)
			if err != nil {
				return err
			}
			e.Type, e.Linkname, e.Size, data = install.TypeReg, "", int64(len(d)), d
		}
		hdr, err := r.tarHeader(e, names)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("/%s: %w", e.Name, err)
		}
		if e.Type == install.TypeReg {
			written[e.Name] = true
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func (r *root) tarHeader(e *install.Entry, names *idNames) (*tar.Header, error) {
	h := &tar.Header{
		Name:    e.Name,
		Mode:    int64(e.Mode & 0o7777),
		Uid:     e.UID,
		Gid:     e.GID,
		Uname:   names.users[e.UID],
		Gname:   names.groups[e.GID],
		ModTime: e.ModTime,
	}
	if h.ModTime.IsZero() {
		h.ModTime = r.mtime
	}
	h.ModTime = h.ModTime.Truncate(time.Second)
	switch e.Type {
	case install.TypeReg:
		h.Typeflag, h.Size = tar.TypeReg, e.Size
	case install.TypeDir:
		h.Typeflag = tar.TypeDir
	case install.TypeSymlink:
		h.Typeflag, h.Linkname = tar.TypeSymlink, e.Linkname
	case install.TypeLink:
		h.Typeflag, h.Linkname = tar.TypeLink, e.Linkname
	case install.TypeChar:
		h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, e.Devmajor, e.Devminor
	case install.TypeBlock:
		h.Typeflag, h.Devmajor, h.Devminor = tar.TypeBlock, e.Devmajor, e.Devminor
	case install.TypeFifo:
		h.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("/%s: unsupported entry type %v", e.Name, e.Type)
	}
	if len(e.Xattrs) > 0 {
		h.PAXRecords = map[string]string{}
		keys := make([]string, 0, len(e.Xattrs))
		for k := range e.Xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.PAXRecords["SCHILY.xattr."+k] = e.Xattrs[k]
		}
	}
	return h, nil
}
