package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomicAndReplaceFile(t *testing.T) {
	for name, write := range map[string]func(string, os.FileMode, func(io.Writer) error) error{
		"WriteAtomic": WriteAtomic,
		"ReplaceFile": ReplaceFile,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "out")
			put := func(s string) error {
				return write(p, 0o640, func(w io.Writer) error {
					_, err := io.WriteString(w, s)
					return err
				})
			}
			if err := put("one"); err != nil {
				t.Fatal(err)
			}
			if err := put("two"); err != nil {
				t.Fatal(err)
			}
			// A failing write leaves the old file and no temporary file.
			boom := errors.New("boom")
			err := write(p, 0o640, func(w io.Writer) error {
				io.WriteString(w, "half")
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("failing write: got %v", err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != "two" {
				t.Errorf("content %q, %v; want \"two\"", got, err)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", fi.Mode())
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want only the output", len(ents))
			}
		})
	}
}

// The size given to ReplaceFileSize is a hint: the file is as long as
// what was written.
func TestReplaceFileSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	for _, hint := range []int64{0, 3, 5, 1 << 20} {
		err := ReplaceFileSize(p, 0o644, hint, func(w io.Writer) error {
			_, err := io.WriteString(w, "hello")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != "hello" {
			t.Errorf("hint %d: content %q", hint, got)
		}
	}
}
