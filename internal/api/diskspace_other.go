//go:build !(linux || darwin)

package api

// diskSpace is unknown (-1, Kafka's UNKNOWN_VOLUME_BYTES) where statfs is not wired up.
func diskSpace(string) (total, usable int64) { return -1, -1 }
