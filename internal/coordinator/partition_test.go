package coordinator

import "testing"

func TestPartitionFor(t *testing.T) {
	for _, c := range []struct {
		s    string
		hash int32
	}{{"", 0}, {"hello", 99162322}, {"😀", 0xD83D*31 + 0xDE00}, {"polygenelubricants", -1 << 31}} {
		if got := javaStringHashCode(c.s); got != c.hash {
			t.Errorf("javaStringHashCode(%q) = %d, want %d", c.s, got, c.hash)
		}
	}
	// Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0.
	if p := PartitionFor("polygenelubricants", 50); p != 0 {
		t.Errorf("PartitionFor(MIN_VALUE hash) = %d, want 0", p)
	}
	if p := PartitionFor("hello", 50); p != 99162322%50 {
		t.Errorf("PartitionFor(hello) = %d", p)
	}
}
