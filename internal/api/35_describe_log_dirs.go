package api

// DescribeLogDirs (key 35), v0-v4.
//
// Behaviour: the broker's one data dir (log.dirs), as an absolute path, with every
// replica this broker holds (leader or follower) among those asked for (a null topic
// list: all of them), each with its size in bytes (its segment files), offset_lag 0 and
// is_future false. Partitions this broker does not hold are left out, as Kafka does. v4
// adds the file system's total and usable bytes (statfs; -1 where the OS gives none).
// Needs DESCRIBE on the cluster: otherwise no dirs and, from v3, CLUSTER_AUTHORIZATION_FAILED
// at the top level. v1 adds throttling, v2 is flexible, v3 the top-level error.
//
// Differs from Kafka: one data dir only, so no future replicas (KIP-113 moves between
// dirs) and offset_lag is always 0.

import (
	"context"
	"path/filepath"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
	"github.com/nagare-dev/nagare/internal/partition"
)

func (d *Dispatcher) handleDescribeLogDirs(_ context.Context, r *request) {
	req := r.body.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !d.authorizedCluster(r, acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = d.dataDir()
	dir.TotalBytes, dir.UsableBytes = diskSpace(dir.Dir)
	dir.Topics = describeReplicas(d.cfg.Partitions.All(), req.Topics)
	resp.Dirs = append(resp.Dirs, dir)
	r.respond(resp)
}

// dataDir is the broker's data dir as an absolute path, as Kafka names log dirs.
func (d *Dispatcher) dataDir() string {
	dirs := d.cfg.Broker.List("log.dirs")
	if len(dirs) == 0 {
		dirs = d.cfg.Broker.List("log.dir")
	}
	if len(dirs) == 0 {
		return ""
	}
	if abs, err := filepath.Abs(dirs[0]); err == nil {
		return abs
	}
	return dirs[0]
}

// describeReplicas lists the replicas in parts that topics asks for (nil: all), by
// topic then partition.
func describeReplicas(parts []*partition.Partition, topics []kmsg.DescribeLogDirsRequestTopic) []kmsg.DescribeLogDirsResponseDirTopic {
	var wanted map[string][]int32
	if topics != nil {
		wanted = make(map[string][]int32, len(topics))
		for _, t := range topics {
			wanted[t.Topic] = append(wanted[t.Topic], t.Partitions...)
		}
	}
	slices.SortFunc(parts, func(a, b *partition.Partition) int {
		if c := strings.Compare(a.Topic(), b.Topic()); c != 0 {
			return c
		}
		return int(a.Index() - b.Index())
	})
	var out []kmsg.DescribeLogDirsResponseDirTopic
	for _, p := range parts {
		if wanted != nil && !slices.Contains(wanted[p.Topic()], p.Index()) {
			continue
		}
		if n := len(out); n == 0 || out[n-1].Topic != p.Topic() {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.Topic()
			out = append(out, t)
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size, rp.OffsetLag, rp.IsFuture = p.Index(), p.Log().Size(), 0, false
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, rp)
	}
	return out
}
