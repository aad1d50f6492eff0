package metadata

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// apply returns the Image that follows img once rec, stored at index, is applied; or an error
// saying which invariant rec breaks, leaving img as the current state. It must be
// deterministic (every replica applies the same log to the same result) and must not panic
// on any record DecodeRecord returns: FuzzDecodeRecord holds it to that.
//
// apply validates what an Image must always satisfy (names and IDs unique, partitions dense,
// replicas registered). What Kafka's admin APIs check on top (config names and values,
// replication factor against live brokers) is the proposer's job, before it proposes.
func (img *Image) apply(rec Record, index uint64) (*Image, error) {
	if _, ok := rec.(NoOp); ok {
		return img.next(index), nil // the content index stays: nothing changed
	}
	next, err := img.applyChange(rec, index)
	if err == nil && next != img {
		next.contentIndex = index
	}
	return next, err
}

// applyChange applies a record that changes the Image's content.
func (img *Image) applyChange(rec Record, index uint64) (*Image, error) {
	switch r := rec.(type) {
	case RegisterBroker:
		return img.applyRegisterBroker(r, index)
	case CreateTopic:
		return img.applyCreateTopic(r, index)
	case DeleteTopic:
		return img.applyDeleteTopic(r, index)
	case CreatePartitions:
		return img.applyCreatePartitions(r, index)
	case AlterTopicConfigs:
		return img.applyAlterTopicConfigs(r, index)
	case AlterBrokerConfigs:
		return img.applyAlterBrokerConfigs(r, index)
	case AllocateProducerIDs:
		return img.applyAllocateProducerIDs(r, index)
	case SetClusterID:
		return img.applySetClusterID(r, index)
	case ClientQuota:
		return img.applyClientQuota(r, index)
	case UserScramCredential:
		return img.applyUserScramCredential(r, index)
	case CreateACL:
		return img.applyCreateACL(r, index)
	case DeleteACL:
		return img.applyDeleteACL(r, index)
	case ChangePartition:
		return img.applyChangePartition(r, index)
	case FenceBroker:
		return img.applyFence(r.NodeID, true, index)
	case UnfenceBroker:
		return img.applyFence(r.NodeID, false, index)
	}
	// Only reachable with a pointer to a record struct, which DecodeRecord never returns.
	return nil, fmt.Errorf("%w: cannot apply %T", ErrUnknownRecord, rec)
}

func (img *Image) applyCreateTopic(r CreateTopic, index uint64) (*Image, error) {
	if err := validateTopicName(r.Name); err != nil {
		return nil, err
	}
	if r.TopicID.IsZero() || r.TopicID == metadataTopicID {
		return nil, fmt.Errorf("%w: topic %q has reserved ID %v", ErrInvalidRecord, r.Name, r.TopicID)
	}
	if _, ok := img.TopicByName(r.Name); ok {
		return nil, fmt.Errorf("%w: %q", ErrTopicExists, r.Name)
	}
	if other, ok := img.TopicByID(r.TopicID); ok {
		return nil, fmt.Errorf("%w: ID %v is topic %q's", ErrTopicExists, r.TopicID, other.Name)
	}
	if len(r.Partitions) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no partitions", ErrInvalidPartitions, r.Name)
	}
	if err := img.validatePartitions(r.Name, r.Partitions, 0); err != nil {
		return nil, err
	}
	if err := validateConfigChange(r.Configs, nil); err != nil {
		return nil, fmt.Errorf("topic %q: %w", r.Name, err)
	}
	t := &Topic{
		Name:       r.Name,
		ID:         r.TopicID,
		Partitions: slices.Clone(r.Partitions),
		Configs:    nilIfEmpty(maps.Clone(r.Configs)),
	}
	return img.withTopic(index, t), nil
}

func (img *Image) applyDeleteTopic(r DeleteTopic, index uint64) (*Image, error) {
	t, ok := img.TopicByID(r.TopicID)
	if !ok {
		return nil, fmt.Errorf("%w: ID %v", ErrUnknownTopic, r.TopicID)
	}
	return img.withoutTopic(index, t), nil
}

func (img *Image) applyCreatePartitions(r CreatePartitions, index uint64) (*Image, error) {
	t, ok := img.TopicByID(r.TopicID)
	if !ok {
		return nil, fmt.Errorf("%w: ID %v", ErrUnknownTopic, r.TopicID)
	}
	if len(r.New) == 0 {
		return nil, fmt.Errorf("%w: topic %q: no new partitions (the count only grows)", ErrInvalidPartitions, t.Name)
	}
	if err := img.validatePartitions(t.Name, r.New, len(t.Partitions)); err != nil {
		return nil, err
	}
	grown := *t
	grown.Partitions = slices.Concat(t.Partitions, r.New)
	return img.withTopic(index, &grown), nil
}

func (img *Image) applyAlterTopicConfigs(r AlterTopicConfigs, index uint64) (*Image, error) {
	t, ok := img.TopicByID(r.TopicID)
	if !ok {
		return nil, fmt.Errorf("%w: ID %v", ErrUnknownTopic, r.TopicID)
	}
	if err := validateConfigChange(r.Set, r.Delete); err != nil {
		return nil, fmt.Errorf("topic %q: %w", t.Name, err)
	}
	altered := *t
	altered.Configs = alterConfigs(t.Configs, r.Set, r.Delete)
	return img.withTopic(index, &altered), nil
}

func (img *Image) applyAlterBrokerConfigs(r AlterBrokerConfigs, index uint64) (*Image, error) {
	// The broker need not be registered: Kafka lets operators configure a broker before it
	// first starts, so that it starts with the right settings.
	if r.NodeID < ClusterDefault {
		return nil, fmt.Errorf("%w: broker node ID %d", ErrInvalidRecord, r.NodeID)
	}
	if err := validateConfigChange(r.Set, r.Delete); err != nil {
		return nil, fmt.Errorf("broker %d: %w", r.NodeID, err)
	}
	configs := alterConfigs(img.brokerConfigs[r.NodeID], r.Set, r.Delete)
	return img.withBrokerConfigs(index, r.NodeID, configs), nil
}

// applyAllocateProducerIDs is a compare-and-set on NextProducerID: a block that does not
// start exactly there was chosen from a stale Image (another proposer got a block first) and
// is rejected, so blocks never overlap and never leave gaps.
func (img *Image) applyAllocateProducerIDs(r AllocateProducerIDs, index uint64) (*Image, error) {
	if r.NodeID < -1 {
		return nil, fmt.Errorf("%w: producer ID block for node %d", ErrInvalidRecord, r.NodeID)
	}
	if r.Start != img.nextProducerID {
		return nil, fmt.Errorf("%w: producer ID block starts at %d, the next free ID is %d",
			ErrInvalidRecord, r.Start, img.nextProducerID)
	}
	// Start is the Image's, so not negative: the subtraction cannot overflow.
	if r.Count <= 0 || r.Count > math.MaxInt64-r.Start {
		return nil, fmt.Errorf("%w: producer ID block of %d from %d", ErrInvalidRecord, r.Count, r.Start)
	}
	return img.withNextProducerID(index, r.Start+r.Count), nil
}

// applySetClusterID sets the cluster ID once: changing it would make clients and tools take
// the cluster for another one.
func (img *Image) applySetClusterID(r SetClusterID, index uint64) (*Image, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("%w: empty cluster ID", ErrInvalidRecord)
	}
	if img.clusterID != "" {
		return nil, fmt.Errorf("%w: cluster ID is already %q", ErrInvalidRecord, img.clusterID)
	}
	return img.withClusterID(index, r.ID), nil
}

// validatePartitions checks partitions that are to become numbers first, first+1, ... of
// topic: numbering dense, replicas registered and distinct, leader and ISR among the replicas.
func (img *Image) validatePartitions(topic string, parts []PartitionAssignment, first int) error {
	if len(parts) > math.MaxInt32-first {
		return fmt.Errorf("%w: topic %q: %d partitions overflow int32", ErrInvalidPartitions, topic, first+len(parts))
	}
	for i, p := range parts {
		if want := int32(first + i); p.Partition != want {
			return fmt.Errorf("%w: topic %q: got partition %d where %d comes next", ErrInvalidPartitions, topic, p.Partition, want)
		}
		if err := img.validateAssignment(p); err != nil {
			return fmt.Errorf("%w: topic %q partition %d: %v", ErrInvalidReplicas, topic, p.Partition, err)
		}
	}
	return nil
}

// validateAssignment checks one partition's replicas, leader and ISR. Its error text is
// wrapped by validatePartitions.
func (img *Image) validateAssignment(p PartitionAssignment) error {
	if len(p.Replicas) == 0 {
		return fmt.Errorf("no replicas")
	}
	for i, r := range p.Replicas {
		if slices.Contains(p.Replicas[:i], r) {
			return fmt.Errorf("replica %d listed twice", r)
		}
		if _, ok := img.Broker(r); !ok {
			return fmt.Errorf("replica %d is not a registered broker", r)
		}
	}
	for i, r := range p.ISR {
		if slices.Contains(p.ISR[:i], r) {
			return fmt.Errorf("ISR member %d listed twice", r)
		}
		if !slices.Contains(p.Replicas, r) {
			return fmt.Errorf("ISR member %d is not a replica", r)
		}
	}
	if p.Leader != NoLeader && !slices.Contains(p.ISR, p.Leader) {
		return fmt.Errorf("leader %d is not in the ISR", p.Leader)
	}
	if err := checkReassigning(p.Replicas, p.AddingReplicas, p.RemovingReplicas); err != nil {
		return err
	}
	if p.LeaderEpoch < 0 {
		return fmt.Errorf("leader epoch %d is negative", p.LeaderEpoch)
	}
	return nil
}

// validateTopicName applies Kafka's rules (org.apache.kafka.common.internals.Topic): a name
// becomes a directory name and a metric tag, hence the short alphabet and length.
func validateTopicName(name string) error {
	const maxLen = 249 // 255 bytes of file name, less a partition suffix
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidTopicName, name)
	case len(name) > maxLen:
		return fmt.Errorf("%w: %d characters, longer than %d", ErrInvalidTopicName, len(name), maxLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q: only ASCII letters, digits, '.', '_' and '-' are allowed", ErrInvalidTopicName, name)
		}
	}
	return nil
}

// validateConfigChange checks the shape of a config change. Names and values are checked by
// internal/config before proposing; here only what would make the change ambiguous.
func validateConfigChange(set map[string]string, del []string) error {
	for k := range set {
		if k == "" {
			return fmt.Errorf("%w: empty config name", ErrInvalidRecord)
		}
	}
	for _, k := range del {
		if k == "" {
			return fmt.Errorf("%w: empty config name", ErrInvalidRecord)
		}
		if _, ok := set[k]; ok {
			return fmt.Errorf("%w: config %q both set and deleted", ErrInvalidRecord, k)
		}
	}
	return nil
}

// alterConfigs returns a new map: old with set applied and del removed, nil when empty. old
// is shared with earlier Images and is left as it was.
func alterConfigs(old, set map[string]string, del []string) map[string]string {
	out := make(map[string]string, len(old)+len(set))
	maps.Copy(out, old)
	maps.Copy(out, set)
	for _, k := range del {
		delete(out, k)
	}
	return nilIfEmpty(out)
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
