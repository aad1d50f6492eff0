package api

// Shared by DescribeConfigs, AlterConfigs and IncrementalAlterConfigs: naming the resource,
// Kafka's request checks, and turning a new set of overrides into a metadata record.
//
// Dynamic broker configs live in two places: the metadata image (durable, replicated: the
// source of truth) and config.Broker (what the broker's getters read). A change is proposed
// to the metadata, then copied from the image into config.Broker by ApplyDynamicConfigs,
// which the broker must also call at start-up and on every metadata change, so a restarted
// broker or another node ends up with the same values.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/metadata"
)

// brokerResource is a BROKER config resource resolved: its scope in config.Broker and the
// node ID its dynamic configs are kept under in the metadata image.
type brokerResource struct {
	scope  config.Scope
	nodeID int32 // this node, or metadata.ClusterDefault
}

// brokerResourceFor resolves a BROKER resource name: "" is the cluster default, this
// node's ID is this broker; anything else is refused as Kafka's brokers refuse it.
func (d *Dispatcher) brokerResourceFor(name string) (brokerResource, error) {
	if name == "" {
		return brokerResource{scope: config.ScopeClusterDefault, nodeID: metadata.ClusterDefault}, nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return brokerResource{}, newError(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != d.cfg.NodeID {
		return brokerResource{}, newError(kerr.InvalidRequest,
			"Unexpected broker id, expected %d or empty string, but received %s", d.cfg.NodeID, name)
	}
	return brokerResource{scope: config.ScopeBroker, nodeID: d.cfg.NodeID}, nil
}

// unknownTopicError is Kafka's answer for a config resource naming a topic that does not exist.
func unknownTopicError(name string) error {
	return newError(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", name)
}

// unsupportedResourceError answers a resource type Nagare has no configs for.
func unsupportedResourceError(t kmsg.ConfigResourceType) error {
	return newError(kerr.InvalidRequest, "Unsupported resource type %s (%d)", t, int8(t))
}

// resourceKey identifies a config resource for Kafka's once-per-request rule.
type resourceKey struct {
	kind kmsg.ConfigResourceType
	name string
}

// repeatedResources returns the resources named more than once in a request: Kafka answers
// each copy with INVALID_REQUEST and changes none of them.
func repeatedResources(keys []resourceKey) map[resourceKey]bool {
	seen := make(map[resourceKey]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}
	out := map[resourceKey]bool{}
	for k, n := range seen {
		if n > 1 {
			out[k] = true
		}
	}
	return out
}

var errRepeatedResource = newError(kerr.InvalidRequest, "Each resource must appear at most once.")

// checkAlterEntries applies Kafka's checks on a resource's config entries before any is
// looked at: no name twice, and no null value where a value is needed.
func checkAlterEntries(names []string, needsValue func(i int) bool) error {
	seen := make(map[string]bool, len(names))
	var nulls []string
	for i, n := range names {
		if seen[n] {
			return newError(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[n] = true
		if needsValue(i) {
			nulls = append(nulls, n)
		}
	}
	if len(nulls) > 0 {
		return newError(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ", "))
	}
	return nil
}

// replaceTopicConfigs makes next the topic's whole set of overrides: validated, and unless
// validateOnly, recorded as the difference from the current set and pushed to its logs.
func (d *Dispatcher) replaceTopicConfigs(ctx context.Context, t *metadata.Topic, next map[string]string, validateOnly bool) error {
	if err := config.ValidateTopic(next); err != nil {
		return err
	}
	set, del := diffConfigs(t.Configs, next)
	if validateOnly || (len(set) == 0 && len(del) == 0) {
		return nil
	}
	if _, err := d.cfg.Metadata.Propose(ctx, metadata.AlterTopicConfigs{TopicID: t.ID, Set: set, Delete: del}); err != nil {
		return err
	}
	return d.cfg.Partitions.Sync(d.cfg.Metadata.Image())
}

// replaceBrokerConfigs makes next the whole set of dynamic configs at res: validated
// against this broker's configuration, and unless validateOnly, recorded and applied.
func (d *Dispatcher) replaceBrokerConfigs(ctx context.Context, res brokerResource, next map[string]string, validateOnly bool) error {
	if err := d.cfg.Broker.ValidateDynamic(res.scope, next); err != nil {
		return err
	}
	set, del := diffConfigs(d.cfg.Metadata.Image().BrokerConfigs(res.nodeID), next)
	if validateOnly || (len(set) == 0 && len(del) == 0) {
		return nil
	}
	rec := metadata.AlterBrokerConfigs{NodeID: res.nodeID, Set: set, Delete: del}
	if _, err := d.cfg.Metadata.Propose(ctx, rec); err != nil {
		return err
	}
	return d.applyDynamicConfigs()
}

// applyDynamicConfigs copies the image's dynamic broker configs into config.Broker and
// re-resolves every partition's topic configs, so a change to a broker default (say
// log.retention.ms) reaches the logs. Two alters racing could each copy an image, the
// older last; so after copying, the image is read again and the copy redone until the
// broker configs it holds are the ones copied.
//
// A value that does not apply is logged, not returned: the change this request made was
// validated before it was proposed, so the culprit is an older entry (or a racing change),
// and the change itself is committed; an error would have the client retry it.
func (d *Dispatcher) applyDynamicConfigs() error {
	for {
		img := d.cfg.Metadata.Image()
		err := ApplyDynamicConfigs(d.cfg.Broker, img, d.cfg.NodeID)
		now := d.cfg.Metadata.Image()
		if !sameBrokerConfigs(img, now, d.cfg.NodeID) {
			continue
		}
		if err != nil {
			d.cfg.Logger.Error("dynamic broker configs not applied", "err", err)
		}
		return d.cfg.Partitions.Sync(now)
	}
}

func sameBrokerConfigs(a, b *metadata.Image, nodeID int32) bool {
	return maps.Equal(a.BrokerConfigs(nodeID), b.BrokerConfigs(nodeID)) &&
		maps.Equal(a.BrokerConfigs(metadata.ClusterDefault), b.BrokerConfigs(metadata.ClusterDefault))
}

// ApplyDynamicConfigs sets b's dynamic broker configs (per-broker and cluster default) to
// the ones img records for node nodeID. The broker calls it once the metadata is ready and
// before the partitions are first synced, so dynamic configs set before a restart apply from
// the start, and again whenever the metadata changes.
//
// A value this build rejects (a name it does not know, written by a newer version, or a
// value it no longer accepts) is skipped and named in the returned error rather than making
// the whole scope fail, as Kafka's brokers log and skip such configs; the rest apply.
func ApplyDynamicConfigs(b *config.Broker, img *metadata.Image, nodeID int32) error {
	defaults := img.BrokerConfigs(metadata.ClusterDefault)
	errDefault := setDynamicLenient(b, config.ScopeClusterDefault, defaults)
	errBroker := setDynamicLenient(b, config.ScopeBroker, img.BrokerConfigs(nodeID))
	if errDefault != nil {
		// A rule spanning both scopes may have failed only against the old per-broker values.
		errDefault = setDynamicLenient(b, config.ScopeClusterDefault, defaults)
	}
	return errors.Join(errDefault, errBroker)
}

// setDynamicLenient sets scope to values or, if that fails, to the values that pass alone.
func setDynamicLenient(b *config.Broker, scope config.Scope, values map[string]string) error {
	if err := b.SetDynamic(scope, values); err == nil {
		return nil
	}
	var errs []error
	good := make(map[string]string, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if err := b.ValidateDynamic(scope, map[string]string{name: values[name]}); err != nil {
			errs = append(errs, err)
			continue
		}
		good[name] = values[name]
	}
	if err := b.SetDynamic(scope, good); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// diffConfigs returns what turns old into next: the names to set (new or changed) and the
// names to delete, sorted so records read the same on every run.
func diffConfigs(old, next map[string]string) (set map[string]string, del []string) {
	for name, v := range next {
		if cur, ok := old[name]; !ok || cur != v {
			if set == nil {
				set = make(map[string]string)
			}
			set[name] = v
		}
	}
	for name := range old {
		if _, ok := next[name]; !ok {
			del = append(del, name)
		}
	}
	slices.Sort(del)
	return set, del
}

// describeConfigEntry copies one config.Entry onto the wire for the request's version.
func describeConfigEntry(e config.Entry, synonyms, documentation bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
	c.IsDefault = e.Source == config.SourceDefault // v0
	c.Source = kmsg.ConfigSource(e.Source)
	c.ConfigType = kmsg.ConfigType(e.Type)
	if synonyms {
		for _, s := range e.Synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			cs.Name, cs.Value, cs.Source = s.Name, s.Value, kmsg.ConfigSource(s.Source)
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	if documentation && e.Doc != "" {
		c.Documentation = ptr(e.Doc)
	}
	return c
}
