package metadata

import (
	"cmp"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nagare-dev/nagare/internal/acl"
)

// Image is the cluster metadata as of one index of the metadata log. It never changes once
// published: applying a record builds a new Image that shares everything the record did not
// touch. So readers take the current Image from Store.Image (an atomic load) and read it as
// long as they like without locks, and two reads from one Image always agree.
//
// Everything reachable from an Image (topics, their partitions and configs, broker configs)
// is shared with other Images and readers: never modify it.
type Image struct {
	index uint64 // the raft index of the last record applied; 0 for the empty image
	// contentIndex is the index of the last record that changed anything but the index
	// (every record but NoOp); a snapshot's index when restored from one.
	contentIndex uint64

	topicsByName topicIndex[string]
	topicsByID   topicIndex[TopicID]
	// sorted caches Topics(), built on first use: most Images are never listed, and
	// keeping a sorted list up to date would cost every record a copy of it.
	sorted *sortedTopics

	brokers       []Broker                    // sorted by NodeID; small, so copied whole on change
	brokerConfigs map[int32]map[string]string // NodeID or ClusterDefault → dynamic configs; no empty maps

	nextProducerID int64  // the first producer ID no AllocateProducerIDs block has covered
	clusterID      string // "" until SetClusterID

	clientQuotas map[QuotaEntity]map[string]float64 // entity → key → value; no empty maps

	scramCredentials map[ScramKey]ScramCredential // scram.go

	acls     map[string]acl.Binding // ACL ID → binding (acl.go)
	aclIDs   map[acl.Binding]string // binding → ACL ID: a binding is stored once
	aclIndex uint64                 // the index of the last ACL change
}

type sortedTopics struct {
	once   sync.Once
	topics []*Topic
}

// Topic is one topic in an Image. It is shared by every Image until a record changes it, then
// replaced, never modified.
type Topic struct {
	// Name is unique among the topics of an Image, and free again once the topic is deleted.
	Name string
	// ID is never reused, so a request naming a topic by ID cannot reach a re-created topic
	// of the same name.
	ID TopicID
	// Partitions holds partition i at index i: numbering is dense and only grows.
	Partitions []PartitionAssignment
	// Configs are the topic-level overrides only (nil when there are none); defaults and
	// broker-level values are resolved by internal/config, not here.
	Configs map[string]string
}

// Broker is a registered broker: where clients and other brokers reach it.
type Broker struct {
	NodeID int32  // Kafka's node.id
	Host   string // the advertised host of the broker's inter-broker listener
	Port   int32
	Rack   string // broker.rack; "" when the broker has no rack
	// Fenced is set by FenceBroker and cleared by UnfenceBroker (broker_fence.go): the
	// broker missed its session, shut down or restarted, and serves nothing until it
	// heartbeats with its current epoch.
	Fenced bool
	// Epoch is the broker epoch (KIP-631): the index of the registration of the running
	// incarnation. Heartbeats, controlled shutdowns and replica fetches carry it, so the
	// requests of a process that has since restarted are refused.
	Epoch int64
	// IncarnationID identifies the process that registered; "" for registrations written
	// before incarnations existed.
	IncarnationID string
	// Listeners are the broker's advertised client listeners; nil for registrations
	// written before they were recorded (then Host and Port serve every listener).
	Listeners []Endpoint
}

// emptyImage is the state before the first record. It is shared: Images are immutable.
var emptyImage = &Image{sorted: &sortedTopics{}}

// Index returns the raft index of the last record applied to this Image (Kafka would call it
// the metadata offset). A record that Apply rejects leaves the Image, and so its Index, as it
// was. Compare with the index Propose returns to know whether an Image includes a change.
func (img *Image) Index() uint64 { return img.index }

// ContentIndex is the index of the last record that changed the Image's content: Images
// with equal content indexes differ only by NoOp records, so a watcher that acts on
// content (the broker's followMetadata) can skip them.
func (img *Image) ContentIndex() uint64 { return img.contentIndex }

// TopicByName looks a topic up by name, as Produce and Metadata requests name topics.
func (img *Image) TopicByName(name string) (*Topic, bool) {
	return img.topicsByName.get(name)
}

// TopicByID looks a topic up by ID, as Fetch v13+ and DeleteTopics by ID name topics.
func (img *Image) TopicByID(id TopicID) (*Topic, bool) {
	return img.topicsByID.get(id)
}

// TopicCount returns the number of topics without building a list.
func (img *Image) TopicCount() int { return img.topicsByName.len }

// Topics returns every topic sorted by name, the order Kafka's tools list them in. The slice
// is the caller's own (its *Topic values are shared). The first call on an Image sorts; later
// calls copy the sorted list.
func (img *Image) Topics() []*Topic { return slices.Clone(img.sortedTopics()) }

// sortedTopics returns the cached sorted list, building it on first use.
func (img *Image) sortedTopics() []*Topic {
	img.sorted.once.Do(func() {
		list := img.topicsByName.all()
		slices.SortFunc(list, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
		img.sorted.topics = list
	})
	return img.sorted.topics
}

// Brokers returns the registered brokers sorted by node ID. The slice is the caller's own.
func (img *Image) Brokers() []Broker { return slices.Clone(img.brokers) }

// Broker returns the registration of one broker.
func (img *Image) Broker(nodeID int32) (Broker, bool) {
	i, ok := img.brokerIndex(nodeID)
	if !ok {
		return Broker{}, false
	}
	return img.brokers[i], true
}

// BrokerConfigs returns the dynamic configs set for one broker, or for every broker when
// nodeID is ClusterDefault: only what was set at run time (Kafka's DYNAMIC_BROKER_CONFIG and
// DYNAMIC_DEFAULT_BROKER_CONFIG), nil when nothing was. The map is shared: do not modify it.
func (img *Image) BrokerConfigs(nodeID int32) map[string]string {
	return img.brokerConfigs[nodeID]
}

// NextProducerID returns the first producer ID never handed out in a block: the Start the
// next AllocateProducerIDs must carry. It is 0 in a new cluster and only grows, so every ID
// below it belongs to some node's block, and none above it to any.
func (img *Image) NextProducerID() int64 { return img.nextProducerID }

// ClusterID returns the cluster's ID (Kafka's cluster.id, as Metadata and DescribeCluster
// responses carry it), or "" before SetClusterID; see Store.EnsureClusterID.
func (img *Image) ClusterID() string { return img.clusterID }

// Partition returns partition p of the topic.
func (t *Topic) Partition(p int32) (PartitionAssignment, bool) {
	if p < 0 || int(p) >= len(t.Partitions) {
		return PartitionAssignment{}, false
	}
	return t.Partitions[p], true
}

// brokerIndex finds nodeID in the sorted broker list, or where it would be inserted.
func (img *Image) brokerIndex(nodeID int32) (int, bool) {
	return slices.BinarySearchFunc(img.brokers, nodeID, func(b Broker, id int32) int {
		return cmp.Compare(b.NodeID, id)
	})
}

// The methods below build the next Image from this one. Each copies the Image header and
// only the part it changes; the receiver is left as it was for readers that still hold it.

// next returns a shallow copy of img stamped with index, for one of the with* methods to
// change one field of.
func (img *Image) next(index uint64) *Image {
	n := *img
	n.index = index
	return &n
}

// withTopic returns the next Image with t added, or replacing the topic with t's ID.
func (img *Image) withTopic(index uint64, t *Topic) *Image {
	n := img.next(index)
	n.topicsByName = img.topicsByName.with(t.Name, t)
	n.topicsByID = img.topicsByID.with(t.ID, t)
	n.sorted = &sortedTopics{}
	return n
}

// withoutTopic returns the next Image without t.
func (img *Image) withoutTopic(index uint64, t *Topic) *Image {
	n := img.next(index)
	n.topicsByName = img.topicsByName.without(t.Name)
	n.topicsByID = img.topicsByID.without(t.ID)
	n.sorted = &sortedTopics{}
	return n
}

// withBroker returns the next Image with b registered, replacing any registration of b.NodeID.
func (img *Image) withBroker(index uint64, b Broker) *Image {
	n := img.next(index)
	i, found := img.brokerIndex(b.NodeID)
	if found {
		n.brokers = slices.Clone(img.brokers)
		n.brokers[i] = b
	} else {
		n.brokers = slices.Insert(slices.Clone(img.brokers), i, b)
	}
	return n
}

// withBrokerConfigs returns the next Image with nodeID's dynamic configs replaced by configs
// (removed when configs is empty).
func (img *Image) withBrokerConfigs(index uint64, nodeID int32, configs map[string]string) *Image {
	n := img.next(index)
	n.brokerConfigs = maps.Clone(img.brokerConfigs)
	if n.brokerConfigs == nil {
		n.brokerConfigs = make(map[int32]map[string]string, 1)
	}
	if len(configs) == 0 {
		delete(n.brokerConfigs, nodeID)
	} else {
		n.brokerConfigs[nodeID] = configs
	}
	return n
}

// withNextProducerID returns the next Image with NextProducerID set to next.
func (img *Image) withNextProducerID(index uint64, next int64) *Image {
	n := img.next(index)
	n.nextProducerID = next
	return n
}

// withClusterID returns the next Image with the cluster ID set to id.
func (img *Image) withClusterID(index uint64, id string) *Image {
	n := img.next(index)
	n.clusterID = id
	return n
}

// topicShardCount is the number of shards of a topicIndex. A change copies the shard table
// (2 KiB of pointers) and one shard, about count/256 entries: constant up to tens of
// thousands of topics, where copying one map of every topic per record would make creating
// them quadratic.
const topicShardCount = 256

// topicSeed spreads keys over shards. It only has to be stable within the process: shards
// are never stored.
var topicSeed = maphash.MakeSeed()

// topicIndex is an immutable map from K to *Topic: with and without return a new index that
// shares every shard but the one they change. Lookups cost a hash and a map lookup, which
// matters because Produce and Fetch look topics up on every request.
type topicIndex[K comparable] struct {
	shards *[topicShardCount]map[K]*Topic // nil until the first topic; nil shards are empty
	len    int
}

func shardOf[K comparable](k K) int {
	return int(maphash.Comparable(topicSeed, k) % topicShardCount)
}

func (x topicIndex[K]) get(k K) (*Topic, bool) {
	if x.shards == nil {
		return nil, false
	}
	t, ok := x.shards[shardOf(k)][k]
	return t, ok
}

// with returns the index with k mapped to t.
func (x topicIndex[K]) with(k K, t *Topic) topicIndex[K] {
	s := shardOf(k)
	n := x.cloneTable()
	shard := make(map[K]*Topic, len(n.shards[s])+1)
	maps.Copy(shard, n.shards[s])
	if _, ok := shard[k]; !ok {
		n.len++
	}
	shard[k] = t
	n.shards[s] = shard
	return n
}

// without returns the index with k removed.
func (x topicIndex[K]) without(k K) topicIndex[K] {
	s := shardOf(k)
	if _, ok := x.get(k); !ok {
		return x
	}
	n := x.cloneTable()
	shard := maps.Clone(n.shards[s])
	delete(shard, k)
	n.shards[s] = shard
	n.len--
	return n
}

// cloneTable copies the shard table, not the shards.
func (x topicIndex[K]) cloneTable() topicIndex[K] {
	table := new([topicShardCount]map[K]*Topic)
	if x.shards != nil {
		*table = *x.shards
	}
	return topicIndex[K]{shards: table, len: x.len}
}

// all returns every topic, in no particular order.
func (x topicIndex[K]) all() []*Topic {
	out := make([]*Topic, 0, x.len)
	if x.shards == nil {
		return out
	}
	for _, shard := range x.shards {
		for _, t := range shard {
			out = append(out, t)
		}
	}
	return out
}
