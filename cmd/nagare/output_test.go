package main

import "testing"

func TestPartitionList(t *testing.T) {
	for _, tc := range []struct {
		ids  []int32
		want string
	}{
		{nil, "-"},
		{[]int32{0}, "0"},
		{[]int32{0, 1, 2}, "0-2"},
		{[]int32{0, 1, 3, 5, 6}, "0-1,3,5-6"},
	} {
		if got := partitionList(tc.ids); got != tc.want {
			t.Errorf("partitionList(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}
