package coordinator

import (
	"unicode/utf16"
	"unicode/utf8"
)

// PartitionFor is the partition of an internal topic of partitions partitions that
// holds key: Kafka's Utils.abs(key.hashCode()) % partitions, so that every broker and
// every Kafka tool agrees where a group, transactional id or share-partition lives.
func PartitionFor(key string, partitions int) int32 {
	h := javaStringHashCode(key)
	if h == -1<<31 {
		h = 0 // Kafka's Utils.abs maps Integer.MIN_VALUE to 0
	} else if h < 0 {
		h = -h
	}
	return h % int32(partitions)
}

// javaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... over UTF-16 code
// units, with int32 overflow.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s { // no []rune or []uint16 copies: every coordinator lookup hashes
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError || r2 != utf8.RuneError {
			h = 31*(31*h+int32(r1)) + int32(r2) // a surrogate pair: two code units
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
