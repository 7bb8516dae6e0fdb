package apk

import (
	"archive/tar"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// patternFile is a seekable generated file body: nothing is stored.
type patternFile struct{ off, size int64 }

func (p *patternFile) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if rem := p.size - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		o := p.off + int64(i)
		b[i] = byte(o*31 ^ o>>9 ^ o>>17)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (p *patternFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += p.off
	case io.SeekEnd:
		off += p.size
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	p.off = off
	return off, nil
}

// TestBoundedMemory streams a package holding a 256 MiB file through an
// io.Pipe into the Reader and checks the heap stays far below that.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: generates and reads 256 MiB")
	}
	const size = 256 << 20
	opts := WriteOptions{CompressionLevel: 1}
	fill := func(dw *DataWriter) error {
		if err := dw.Add(&tar.Header{Typeflag: tar.TypeDir, Name: "big", Mode: 0o755}, nil); err != nil {
			return err
		}
		return dw.Add(&tar.Header{Typeflag: tar.TypeReg, Name: "big/file", Mode: 0o644, Size: size}, &patternFile{size: size})
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	// Pass 1 computes the datahash; pass 2 streams the package.
	dw := NewDataWriter(io.Discard, opts)
	if err := fill(dw); err != nil {
		t.Fatal(err)
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	info := &PkgInfo{Name: "big", Version: "1-r0", Size: dw.InstalledSize(), DataHash: dw.DataHash()}
	text, _ := info.MarshalText()
	control, err := controlMember(text, nil, nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(control); err != nil {
			pw.CloseWithError(err)
			return
		}
		dw := NewDataWriter(pw, opts)
		if err := fill(dw); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(dw.Close())
	}()

	rep, err := VerifyPackage(pr, nil, Limits{})
	close(stop)
	<-sampled
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Files != 2 {
		t.Errorf("%d files", rep.Files)
	}
	used := int64(peak.Load()) - int64(base)
	t.Logf("peak heap above baseline: %.1f MiB for a %d MiB file", float64(used)/(1<<20), size>>20)
	if used > 32<<20 {
		t.Errorf("peak heap grew by %d MiB reading a %d MiB file", used>>20, size>>20)
	}
}
