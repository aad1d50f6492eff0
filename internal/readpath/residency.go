package readpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Method is how a Pool checks whether a file range is in the page cache.
type Method string

// Residency methods, best first. NewPool picks the first that works on the data dir's
// filesystem (the feature test), unless Config.Method names one.
const (
	// MethodCachestat asks cachestat(2) (Linux 6.5+) how many pages of the range are
	// cached: one syscall, no mapping, no copy, exact about holes. Pages readahead has
	// inserted but not yet filled count as cached, so the last page is also probed with
	// preadv2(RWF_NOWAIT): two syscalls and a one-byte copy per check.
	MethodCachestat Method = "cachestat"
	// MethodPreadv2 reads one byte of up to maxProbes pages spread over the range with
	// preadv2(RWF_NOWAIT), which fails with EAGAIN instead of going to the disk. It copies
	// a byte per probe and can miss holes between probes.
	MethodPreadv2 Method = "preadv2"
	// MethodMincore maps the range and asks mincore(2) for its pages: exact, but an mmap
	// and munmap per check.
	MethodMincore Method = "mincore"
	// MethodNone checks nothing: every range counts as resident, so nothing is warmed.
	// It is what remains where none of the above works (other operating systems).
	MethodNone Method = "none"
)

// methodPreference is the order the feature test tries methods in.
var methodPreference = []Method{MethodCachestat, MethodPreadv2, MethodMincore}

// maxProbes bounds the pages MethodPreadv2 reads per check.
const maxProbes = 32

// ErrUnknownMethod reports a Config.Method that is not one of the constants.
var ErrUnknownMethod = errors.New("readpath: unknown residency method")

// checkFunc reports whether [offset, offset+length) of the file open as fd is wholly in
// the page cache. length is positive.
type checkFunc func(fd int, offset, length int64) (bool, error)

// detectMethod returns want when it works on a file in dir, or when want is "" the first
// method of methodPreference that does; MethodNone if none does. The probe file is made,
// checked and removed here, so the answer holds for the filesystem of the segments.
func detectMethod(dir string, want Method) (Method, checkFunc, error) {
	candidates := methodPreference
	switch want {
	case "":
	case MethodNone:
		return MethodNone, nil, nil
	case MethodCachestat, MethodPreadv2, MethodMincore:
		candidates = []Method{want}
	default:
		return "", nil, fmt.Errorf("%w: %q", ErrUnknownMethod, want)
	}
	if dir == "" {
		dir = os.TempDir()
	}
	probe, err := os.CreateTemp(dir, ".nagare-residency-probe-*")
	if err != nil {
		return "", nil, fmt.Errorf("readpath: residency feature test: %w", err)
	}
	defer os.Remove(probe.Name())
	defer probe.Close()
	if _, err := probe.Write(make([]byte, 2*os.Getpagesize())); err != nil {
		return "", nil, fmt.Errorf("readpath: residency feature test: write %s: %w", filepath.Base(probe.Name()), err)
	}
	var errs []error
	for _, m := range candidates {
		check := checkerFor(m)
		if check == nil {
			errs = append(errs, fmt.Errorf("%s: not built for this system", m))
			continue
		}
		if _, err := checkFile(probe, check, 0, int64(os.Getpagesize())+1); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			continue
		}
		return m, check, nil
	}
	if want != "" {
		return "", nil, fmt.Errorf("readpath: residency method %s unusable: %w", want, errors.Join(errs...))
	}
	return MethodNone, nil, nil
}

// checkFile runs check on f's descriptor, holding a reference on it so a concurrent Close
// cannot hand the number to another file meanwhile.
func checkFile(f *os.File, check checkFunc, offset, length int64) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var resident bool
	var checkErr error
	if err := rc.Control(func(fd uintptr) { resident, checkErr = check(int(fd), offset, length) }); err != nil {
		return false, err
	}
	return resident, checkErr
}
