// Package readpath moves log data from segment files to sockets without making a socket
// writer wait on the disk.
//
// Its job, as the design lays it out: check whether a file range is resident in the page
// cache (cachestat, preadv2 with RWF_NOWAIT, mincore), send cold ranges to a bounded,
// per-client-fair warm-up pool that loads them without copying to user space, send warm
// ranges with sendfile, and keep log2-bucket histograms of sendfile and warm-up durations.
// Only sendfile and its histogram exist so far.
//
// Main pieces:
//   - SendFile (sendfile_linux.go, sendfile_other.go): positional sendfile of a file range
//     to a socket. It never uses or moves the file's shared offset, because many
//     connections send ranges of the same segment file at once.
//   - CopyRange (copy.go): the portable pread-and-write fallback, also the path for
//     connections that cannot take sendfile (TLS).
//   - Histogram (histogram.go): a lock-free count of durations by log2(microseconds).
//
// Concurrency: every function here is safe for concurrent use, on the same file too.
// SendFile blocks only its caller; waiting for the socket to drain parks the goroutine in
// the network poller, but a range that is not in the page cache blocks an OS thread in the
// kernel. That is why ranges must be warmed before they reach a socket writer.
package readpath
