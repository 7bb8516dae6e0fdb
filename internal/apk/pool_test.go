package apk

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sync"
	"testing"
)

// TestReaderPoolReuse checks that a Reader's pooled buffers are released
// at the end of the package and on final errors without changing what the
// Reader reports, and that a later Reader using the same buffers starts
// clean: after truncated, corrupt and trailing-garbage packages, and
// concurrently.
func TestReaderPoolReuse(t *testing.T) {
	good, res := writeSample(t, testSigner(t))
	want, wantEnts := readAll(t, good)
	if want.st.bufs != nil {
		t.Fatal("buffers not released at the end of the package")
	}
	check := func(t *testing.T) {
		t.Helper()
		r, ents := readAll(t, good)
		if r.Size() != int64(len(good)) || r.Size() != res.Size {
			t.Errorf("Size = %d, want %d", r.Size(), len(good))
		}
		if r.DataHash() != want.DataHash() || r.Identity() != res.Identity || r.DataSize() != want.DataSize() {
			t.Errorf("got datahash %s identity %s, want %s %s", r.DataHash(), r.Identity(), want.DataHash(), res.Identity)
		}
		if !reflect.DeepEqual(ents, wantEnts) {
			t.Error("entries differ from the first read")
		}
		// Calls after the end keep returning io.EOF.
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("Next after end: %v", err)
		}
		if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Errorf("Read after end: %d, %v", n, err)
		}
	}

	bad := map[string][]byte{
		"truncated": good[:len(good)-7],
		"corrupt":   append(append([]byte(nil), good[:len(good)-40]...), bytes.Repeat([]byte{0xff}, 40)...),
		"trailing":  append(append([]byte(nil), good...), "garbage"...),
		"control":   good[:len(good)/3],
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(data), Limits{})
			if err == nil {
				err = r.Drain()
				if err == nil {
					t.Fatal("no error")
				}
				if r.st.bufs != nil {
					t.Error("buffers not released after a final error")
				}
				var ce *ChecksumError
				if !errors.As(err, &ce) {
					if _, err2 := r.Next(); err2 == nil || err2.Error() != err.Error() {
						t.Errorf("Next after final error %v: %v", err, err2)
					}
				}
			}
			check(t)
		})
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				r, err := NewReader(bytes.NewReader(good), Limits{})
				if err != nil {
					t.Error(err)
					return
				}
				if err := r.Drain(); err != nil {
					t.Error(err)
					return
				}
				if r.DataHash() != want.DataHash() || r.Size() != int64(len(good)) {
					t.Error("concurrent read differs")
					return
				}
			}
		})
	}
	wg.Wait()
	check(t)
}
