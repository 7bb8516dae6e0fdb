package repo

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConcurrentParse checks that ReadIndex, which parses a large
// APKINDEX while inflating it, gives what parsing the whole text at once
// gives: the same records, and the same error and line for a malformed
// record wherever it falls relative to the chunks handed to the parser.
func TestConcurrentParse(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	text := string(fixtureMember(t, fixture(t, "alpine-3.17-main-aarch64/APKINDEX.tar.gz"), "APKINDEX"))
	if len(text) < 4*textChunk {
		t.Fatalf("fixture text is only %d bytes: too small to exercise the concurrent parser", len(text))
	}
	read := func(t *testing.T, text string) ([]*Package, error) {
		t.Helper()
		data, err := gzipTar(time.Unix(0, 0), true, tarFile{"APKINDEX", []byte(text)})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := readIndexBytesForTest(data)
		if err != nil {
			return nil, err
		}
		return idx.Packages, nil
	}

	want, err := parseIndexText(text, "APKINDEX", maxRecordLine)
	if err != nil {
		t.Fatal(err)
	}
	got, err := read(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if !samePackages(got, want) {
		t.Fatal("records differ from parseIndexText's")
	}

	// A malformed line at chunk boundaries, at the start and at the end;
	// and a record without a name, reported at its first line.
	for _, at := range []int{0, textChunk - 1, textChunk, textChunk + 1, 3*textChunk + 7, len(text) / 2, len(text) - 1} {
		i := strings.IndexByte(text[at:], '\n')
		if i < 0 {
			i = len(text) - at - 1
		}
		cut := at + i + 1 // a line start
		for _, bad := range []string{"garbage\n", "S:not-a-number\n", "P:\n"} {
			broken := text[:cut] + bad + text[cut:]
			_, wantErr := parseIndexText(broken, "APKINDEX", maxRecordLine)
			_, gotErr := read(t, broken)
			if wantErr == nil {
				if gotErr != nil {
					t.Errorf("line inserted at %d (%q): got error %v, want none", cut, bad, gotErr)
				}
				continue
			}
			var we, ge *RecordError
			if !errors.As(wantErr, &we) || !errors.As(gotErr, &ge) || *we != *ge {
				t.Errorf("line inserted at %d (%q): got error %v, want %v", cut, bad, gotErr, wantErr)
			}
		}
	}
	// No final newline.
	trimmed := strings.TrimRight(text, "\n")
	want, _ = parseIndexText(trimmed, "APKINDEX", maxRecordLine)
	got, err = read(t, trimmed)
	if err != nil || !samePackages(got, want) {
		t.Errorf("without a final newline: %v", err)
	}
}

func readIndexBytesForTest(data []byte) (*Index, error) {
	idx, _, err := readIndexBytes(data, nil, ReadOptions{AllowUntrusted: true})
	return idx, err
}
