package install

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/reef-dev/reef/internal/version"
)

// scriptTypes are the script types apk-tools stores, in its order.
var scriptTypes = []string{
	"pre-install", "post-install",
	"pre-deinstall", "post-deinstall",
	"pre-upgrade", "post-upgrade",
	"trigger",
}

// ScriptsTarName returns the name of a script's entry in scripts.tar:
// NAME-VERSION.IDENTITY.TYPE.
func ScriptsTarName(p *InstalledPackage, typ string) string {
	return p.Name + "-" + p.Version + "." + p.Checksum + "." + typ
}

// parseScriptsTarName splits a scripts.tar entry name at its last two
// dots into the identity and the script type.
func parseScriptsTarName(name string) (id, typ string, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(name[:i], '.')
	if j < 0 {
		return "", "", false
	}
	return name[j+1 : i], name[i+1:], true
}

// WriteScriptsTar writes scripts.tar as apk-tools 2 does: for each
// package in order and each script type in apk's order, an entry named
// by ScriptsTarName, mode 0755, owned by root, modification time the
// package's build time, GNU tar headers (a GNU long name when needed),
// and the end-of-archive blocks. scripts maps a package identity to its
// scripts by type ("post-install").
func WriteScriptsTar(w io.Writer, pkgs []*InstalledPackage, scripts map[string]map[string][]byte) error {
	tw := tar.NewWriter(w)
	for _, p := range pkgs {
		s := scripts[p.Checksum]
		if s == nil {
			continue
		}
		for _, typ := range scriptTypes {
			body, ok := s[typ]
			if !ok {
				continue
			}
			hdr := &tar.Header{
				Typeflag: tar.TypeReg,
				Name:     ScriptsTarName(p, typ),
				Mode:     0o755,
				Size:     int64(len(body)),
				ModTime:  time.Unix(p.BuildTime, 0),
				Uname:    "root",
				Gname:    "root",
				Format:   tar.FormatGNU,
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(body); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// ReadScriptsTar reads scripts.tar into identity → type → body. Entries
// whose names do not have the NAME-VERSION.IDENTITY.TYPE form are
// skipped. Scripts larger than 16 MiB are an error.
func ReadScriptsTar(r io.Reader) (map[string]map[string][]byte, error) {
	out := map[string]map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		id, typ, ok := parseScriptsTarName(hdr.Name)
		if !ok {
			continue
		}
		if hdr.Size > 16<<20 {
			return nil, fmt.Errorf("scripts.tar: %s: script of %d bytes is too large", hdr.Name, hdr.Size)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string][]byte{}
		}
		out[id][typ] = body
	}
}

func (r *run) readScripts() error {
	real, err := Resolve(r.fs, r.dbDir+"/scripts.tar")
	if err != nil {
		return nil
	}
	f, err := r.fs.Open(real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer f.Close()
	s, err := ReadScriptsTar(f)
	if err != nil {
		return fmt.Errorf("install: %s/scripts.tar: %w", r.dbDir, err)
	}
	r.scripts = s
	return nil
}

func (r *run) readTriggers() error {
	real, err := Resolve(r.fs, r.dbDir+"/triggers")
	if err != nil {
		return nil
	}
	data, err := ReadFile(r.fs, real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			r.triggers[f[0]] = f[1:]
		}
	}
	return nil
}

// WriteTriggers writes the triggers file: for each package in order that
// has triggers, "IDENTITY GLOB GLOB...".
func WriteTriggers(w io.Writer, pkgs []*InstalledPackage, triggers map[string][]string) error {
	var b bytes.Buffer
	for _, p := range pkgs {
		t := triggers[p.Checksum]
		if len(t) == 0 {
			continue
		}
		b.WriteString(p.Checksum)
		for _, g := range t {
			b.WriteByte(' ')
			b.WriteString(g)
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// depName returns the name part of a world entry ("!name@tag>1" →
// "name").
func depName(s string) string {
	if d, err := version.ParseDep(s); err == nil {
		return d.Name
	}
	s = strings.TrimPrefix(s, "!")
	if i := strings.IndexAny(s, "@<>=~"); i >= 0 {
		return s[:i]
	}
	return s
}

// MergeWorld adds entries to a world list: an entry replaces the
// existing ones for the same name. The result is sorted by name,
// case-insensitively, as apk writes etc/apk/world.
func MergeWorld(world, add []string) []string {
	byName := map[string]string{}
	for _, w := range world {
		byName[depName(w)] = w
	}
	for _, w := range add {
		byName[depName(w)] = w
	}
	out := make([]string, 0, len(byName))
	for _, w := range byName {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := depName(out[i]), depName(out[j])
		if la, lb := strings.ToLower(a), strings.ToLower(b); la != lb {
			return la < lb
		}
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// commit writes the database and configuration files.
func (r *run) commit(opts Options) error {
	mt := r.in.ModTime
	SortInstalled(r.pkgs)

	var db bytes.Buffer
	if err := WriteInstalled(&db, r.pkgs); err != nil {
		return err
	}
	var st bytes.Buffer
	if err := WriteScriptsTar(&st, r.pkgs, r.scripts); err != nil {
		return err
	}
	var tg bytes.Buffer
	if err := WriteTriggers(&tg, r.pkgs, r.triggers); err != nil {
		return err
	}
	dbDir, err := r.mkdirAll(r.dbDir)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"installed", db.Bytes()}, {"scripts.tar", st.Bytes()}, {"triggers", tg.Bytes()}} {
		if err := r.writeFile(joinReal(dbDir, f.name), f.data, 0o644, mt); err != nil {
			return err
		}
	}
	lock := joinReal(dbDir, "lock")
	if _, err := r.fs.Lstat(lock); errors.Is(err, fs.ErrNotExist) {
		if err := r.fs.Create(&Entry{Name: lock, Type: TypeReg, Mode: 0o600, ModTime: mt}, nil); err != nil {
			return fmt.Errorf("install: %s: %w", lock, err)
		}
	}

	etc, err := r.mkdirAll("etc/apk")
	if err != nil {
		return err
	}
	// world
	world, err := readWorld(r.fs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("install: etc/apk/world: %w", err)
	}
	world = MergeWorld(world, opts.World)
	var wb bytes.Buffer
	for _, w := range world {
		wb.WriteString(w)
		wb.WriteByte('\n')
	}
	if err := r.writeFile(joinReal(etc, "world"), wb.Bytes(), 0o644, mt); err != nil {
		return err
	}
	if opts.Repositories != nil {
		var rb bytes.Buffer
		for _, u := range opts.Repositories {
			rb.WriteString(u)
			rb.WriteByte('\n')
		}
		if err := r.writeFile(joinReal(etc, "repositories"), rb.Bytes(), 0o644, mt); err != nil {
			return err
		}
	}
	keys, err := r.mkdirAll("etc/apk/keys")
	if err != nil {
		return err
	}
	for _, k := range opts.Keys {
		if k.Name == "" || strings.ContainsAny(k.Name, "/\x00") || k.Name == "." || k.Name == ".." {
			return fmt.Errorf("install: bad key file name %q", k.Name)
		}
		if err := r.writeFile(joinReal(keys, k.Name), k.Data, 0o644, mt); err != nil {
			return err
		}
	}
	if r.in.Arch != "" {
		if err := r.writeFile(joinReal(etc, "arch"), []byte(r.in.Arch+"\n"), 0o644, mt); err != nil {
			return err
		}
	}
	if r.dbDir == LayoutApko.dbDir() {
		return r.apkoSymlink()
	}
	return nil
}

// apkoSymlink makes lib/apk a symlink to ../usr/lib/apk, as apko does,
// unless lib/apk already leads to usr/lib/apk (lib -> usr/lib).
func (r *run) apkoSymlink() error {
	if real, err := Resolve(r.fs, "lib/apk"); err == nil && real == "usr/lib/apk" {
		return nil
	}
	lib, err := r.mkdirAll("lib")
	if err != nil {
		return err
	}
	name := joinReal(lib, "apk")
	if st, err := r.fs.Lstat(name); err == nil {
		if st.Type == TypeDir {
			r.warn("lib/apk is a directory: not replacing it with a symlink to ../usr/lib/apk")
			return nil
		}
	}
	target := "../usr/lib/apk"
	if lib != "lib" {
		// lib resolves elsewhere; point at usr/lib/apk from there.
		target = strings.Repeat("../", strings.Count(lib, "/")+1) + "usr/lib/apk"
	}
	if err := r.fs.Create(&Entry{Name: name, Type: TypeSymlink, Mode: 0o777, Linkname: target, ModTime: r.in.ModTime}, nil); err != nil {
		return fmt.Errorf("install: lib/apk: %w", err)
	}
	return nil
}

// mkdirAll makes directory dir (a root path, resolved within the root)
// and its parents, 0755 root:root, and returns its real path.
func (r *run) mkdirAll(dir string) (string, error) {
	real := ""
	for _, c := range strings.Split(dir, "/") {
		next, err := Resolve(r.fs, joinReal(real, c))
		if err != nil {
			return "", fmt.Errorf("install: %s: %w", dir, err)
		}
		st, err := r.fs.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := r.fs.Create(&Entry{Name: next, Type: TypeDir, Mode: 0o755, ModTime: r.in.ModTime}, nil); err != nil {
				return "", fmt.Errorf("install: %w", err)
			}
		case err != nil:
			return "", fmt.Errorf("install: %w", err)
		case st.Type != TypeDir:
			return "", fmt.Errorf("install: %s: %s is a %s, not a directory", dir, next, st.Type)
		}
		real = next
	}
	return real, nil
}

// writeFile writes a file atomically: a temporary "NAME.new" renamed
// over NAME, as apk-tools does for its database.
func (r *run) writeFile(name string, data []byte, mode uint32, mt time.Time) error {
	tmp := name + ".new"
	e := &Entry{Name: tmp, Type: TypeReg, Mode: mode, ModTime: mt, Size: int64(len(data))}
	if err := r.fs.Create(e, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("install: %s: %w", name, err)
	}
	if err := r.fs.Rename(tmp, name); err != nil {
		r.fs.Remove(tmp)
		return fmt.Errorf("install: %s: %w", name, err)
	}
	return nil
}

// readWorld reads etc/apk/world from a root: one dependency per entry.
func readWorld(fsys FS) ([]string, error) {
	real, err := Resolve(fsys, "etc/apk/world")
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}
