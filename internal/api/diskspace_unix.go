//go:build linux || darwin

package api

import "golang.org/x/sys/unix"

// diskSpace is the total and usable (available to unprivileged users) bytes of the file
// system holding dir, for DescribeLogDirs v4; -1, -1 when statfs fails, Kafka's
// UNKNOWN_VOLUME_BYTES.
func diskSpace(dir string) (total, usable int64) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	bsize := uint64(st.Bsize)
	return int64(st.Blocks * bsize), int64(st.Bavail * bsize)
}
