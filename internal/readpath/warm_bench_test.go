//go:build linux

package readpath

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLoad compares ways to load a range into the page cache without copying it to
// user space, cold (evicted before each op, eviction untimed) and warm (already cached:
// the pure CPU cost): sendfile to /dev/null, which the pool uses; splice through a pipe
// to /dev/null; and posix_fadvise(WILLNEED) before the sendfile, to queue the whole chunk
// at the disk at once. Each op loads 64 MiB in 1 MiB chunks, as the pool does.
//
//	go test -run '^$' -bench Load -benchtime 20x ./internal/readpath/
func BenchmarkLoad(b *testing.B) {
	const size, chunk = 64 << 20, 1 << 20
	sink, err := openNullSink()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	f := coldFile(b, "", size)
	splicer := newPipeSplicer(b, sink.fd)
	loaders := []struct {
		name string
		load func(f *os.File, offset, length int64) error
	}{
		{"sendfile", sink.load},
		{"splice", splicer.load},
		{"willneed+sendfile", func(f *os.File, offset, length int64) error {
			unix.Fadvise(int(f.Fd()), offset, length, unix.FADV_WILLNEED)
			return sink.load(f, offset, length)
		}},
	}
	for _, cold := range []bool{true, false} {
		for _, l := range loaders {
			name := "warm/" + l.name
			if cold {
				name = "cold/" + l.name
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					if cold {
						b.StopTimer()
						if err := Evict(f); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					for off := int64(0); off < size; off += chunk {
						if err := l.load(f, off, chunk); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// pipeSplicer loads with splice(2): file to a pipe, pipe to /dev/null.
type pipeSplicer struct {
	r, w, null int
}

func newPipeSplicer(b *testing.B, null int) *pipeSplicer {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20) // best effort: 64 KiB otherwise
	return &pipeSplicer{r: p[0], w: p[1], null: null}
}

func (s *pipeSplicer) load(f *os.File, offset, length int64) error {
	pos, end := offset, offset+length
	for pos < end {
		n, err := unix.Splice(int(f.Fd()), &pos, s.w, nil, int(end-pos), unix.SPLICE_F_MOVE)
		if err != nil {
			return err
		}
		for n > 0 {
			m, err := unix.Splice(s.r, nil, s.null, nil, int(n), unix.SPLICE_F_MOVE)
			if err != nil {
				return err
			}
			n -= m
		}
	}
	return nil
}
