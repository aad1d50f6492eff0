package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scope is where a dynamic broker config applies: Kafka's BROKER resource with a broker id
// (this broker) or with an empty name (the cluster-wide default for every broker).
type Scope uint8

// Dynamic scopes, in precedence order.
const (
	ScopeBroker         Scope = iota // this broker only; Source DYNAMIC_BROKER_CONFIG
	ScopeClusterDefault              // every broker; Source DYNAMIC_DEFAULT_BROKER_CONFIG
)

// String names the scope for messages.
func (s Scope) String() string {
	if s == ScopeClusterDefault {
		return "cluster default"
	}
	return "broker"
}

// Broker is the broker's configuration: the static properties it started with plus the
// dynamic overrides set at run time. Readers never block: each read loads one immutable
// snapshot, and SetDynamic publishes a new snapshot whole.
type Broker struct {
	writeMu  sync.Mutex // serialises SetDynamic so two scopes' updates do not lose each other
	snap     atomic.Pointer[snapshot]
	warnings []string // set once by NewBroker
}

// snapshot is one immutable view of every layer. Nothing in it changes after publication.
type snapshot struct {
	// Layers, highest precedence first, holding canonical text by name. static also keeps
	// the unknown names the operator set, with their raw text.
	dynBroker, dynDefault, static map[string]string
	// resolved holds, for every broker config that has a value, what the typed getters
	// return: the family or fallback chain applied, hours and minutes turned into ms.
	resolved map[string]value
	// topicBase holds, for every topic config, its value for a topic with no override.
	topicBase map[string]value
}

// layer is one source of broker values, for walking the layers in precedence order.
type layer struct {
	values map[string]string
	source Source
}

func (s *snapshot) layers() [3]layer {
	return [3]layer{
		{s.dynBroker, SourceDynamicBroker},
		{s.dynDefault, SourceDynamicDefaultBroker},
		{s.static, SourceStaticBroker},
	}
}

// set returns name's value from the highest layer that sets it, ignoring defaults.
func (s *snapshot) set(name string) (value, Source, bool) {
	d := defs.broker[name]
	for _, l := range s.layers() {
		if raw, ok := l.values[name]; ok && d != nil {
			v, err := d.parse(raw) // canonical and validated on the way in
			if err == nil {
				return v, l.source, true
			}
		}
	}
	return value{}, SourceUnknown, false
}

// resolve reads a chain of names the way Kafka's KafkaConfig does: the dynamic layers are
// merged over the static one, then the first name in the chain that is set wins (so a
// static log.retention.ms beats a dynamic log.retention.minutes); if none is set, the
// first name with a default supplies it. When the chain asks for milliseconds, values of
// .minutes and .hours names are converted. The returned name is the one that supplied it.
func (s *snapshot) resolve(chain []string) (value, string, bool) {
	v, name, ok := value{}, "", false
	for _, n := range chain {
		if sv, _, found := s.set(n); found {
			v, name, ok = sv, n, true
			break
		}
	}
	if !ok {
		for _, n := range chain {
			if dv, found := defs.defaults[n]; found {
				v, name, ok = dv, n, true
				break
			}
		}
	}
	if !ok {
		return value{}, "", false
	}
	if strings.HasSuffix(chain[0], ".ms") {
		if scale := millisPer(name); scale != 1 {
			v = value{num: v.num * scale}
			v.text = strconv.FormatInt(v.num, 10)
		}
		// KafkaConfig.logRetentionTimeMillis: any negative retention means unlimited (-1).
		if chain[0] == "log.retention.ms" && v.num < 0 {
			v = value{text: "-1", num: -1}
		}
	}
	return v, name, true
}

// NewBroker validates the static properties and returns the broker's configuration. Every
// known name must parse as its type and pass its range or enum check, or the error (all
// problems, joined) names the key and reason. Unknown names are kept, as Kafka keeps them,
// and listed by Warnings so the caller can log them.
func NewBroker(static map[string]string) (*Broker, error) {
	b := &Broker{}
	kept := make(map[string]string, len(static))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(static)) {
		raw := static[name]
		d := defs.broker[name]
		if d == nil {
			kept[name] = raw
			// listener.name.<listener>.<config> overrides are Kafka's per-listener
			// settings (TLS files, JAAS configs), read raw by the broker.
			if !strings.HasPrefix(name, "listener.name.") {
				b.warnings = append(b.warnings, unknownWarning(name))
			}
			continue
		}
		v, err := d.parse(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kept[name] = v.text
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s, err := buildSnapshot(map[string]string{}, map[string]string{}, kept)
	if err != nil {
		return nil, err
	}
	b.snap.Store(s)
	return b, nil
}

// unknownWarning explains an unknown static name, pointing at the broker name when the
// operator wrote a topic config's name in the broker's properties.
func unknownWarning(name string) string {
	if t := defs.topic[name]; t != nil && len(t.Synonyms) > 0 {
		return fmt.Sprintf("config: %s is a topic config and is ignored here; the broker default is %s", name, t.Synonyms[0])
	}
	return fmt.Sprintf("config: unknown broker config %s is ignored", name)
}

// Warnings lists what NewBroker accepted but will not use (unknown names), one message
// each, for the caller to log.
func (b *Broker) Warnings() []string { return slices.Clone(b.warnings) }

// ValidateDynamic checks values as a complete replacement of scope's dynamic configs
// without applying it, for AlterConfigs with validate_only and before SetDynamic.
func (b *Broker) ValidateDynamic(scope Scope, values map[string]string) error {
	_, err := b.candidate(b.snap.Load(), scope, values)
	return err
}

// SetDynamic replaces every dynamic config of scope with values (names absent from values
// are removed from that scope). It fails, changing nothing, if a name is unknown, cannot be
// updated at run time at that scope, or has an invalid value. Readers see the old or the new
// configuration, never a mix.
func (b *Broker) SetDynamic(scope Scope, values map[string]string) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	s, err := b.candidate(b.snap.Load(), scope, values)
	if err != nil {
		return err
	}
	b.snap.Store(s)
	return nil
}

// candidate validates values for scope and builds the snapshot that would result.
func (b *Broker) candidate(cur *snapshot, scope Scope, values map[string]string) (*snapshot, error) {
	canon := make(map[string]string, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		d := defs.broker[name]
		if d == nil {
			return nil, &ConfigError{Name: name, Reason: "unknown broker config", Err: ErrUnknownName}
		}
		switch {
		case d.Update == ReadOnly:
			return nil, &ConfigError{Name: name, Reason: "read-only; it can only be set in the properties file", Err: ErrReadOnly}
		case d.Update == PerBroker && scope == ScopeClusterDefault:
			return nil, &ConfigError{Name: name, Reason: "per-broker; set it for a broker id, not as the cluster default", Err: ErrReadOnly}
		}
		v, err := d.parse(values[name])
		if err != nil {
			return nil, err
		}
		canon[name] = v.text
	}
	if scope == ScopeClusterDefault {
		return buildSnapshot(cur.dynBroker, canon, cur.static)
	}
	return buildSnapshot(canon, cur.dynDefault, cur.static)
}

// Dynamic returns a copy of scope's dynamic configs, for the api layer to apply an
// incremental alter to before calling SetDynamic with the result.
func (b *Broker) Dynamic(scope Scope) map[string]string {
	s := b.snap.Load()
	if scope == ScopeClusterDefault {
		return maps.Clone(s.dynDefault)
	}
	return maps.Clone(s.dynBroker)
}

// buildSnapshot resolves every getter chain and topic default over the given layers and
// checks the rules that span several names, as KafkaConfig's validateValues does.
func buildSnapshot(dynBroker, dynDefault, static map[string]string) (*snapshot, error) {
	s := &snapshot{
		dynBroker:  maps.Clone(dynBroker),
		dynDefault: maps.Clone(dynDefault),
		static:     maps.Clone(static),
		resolved:   make(map[string]value, len(defs.broker)),
		topicBase:  make(map[string]value, len(defs.topic)),
	}
	for name, chain := range defs.chains {
		if v, _, ok := s.resolve(chain); ok {
			s.resolved[name] = v
		}
	}
	for name, d := range defs.topic {
		v, _, ok := s.resolve(d.Synonyms)
		if !ok {
			v = defs.defaults[name]
		}
		s.topicBase[name] = v
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check enforces the rules that involve more than one name.
func (s *snapshot) check() error {
	var errs []error
	fail := func(name, reason string) {
		errs = append(errs, &ConfigError{Name: name, Reason: reason, Err: ErrInvalidValue})
	}
	nodeID, _, nodeSet := s.set("node.id")
	brokerID, _, brokerSet := s.set("broker.id")
	if nodeSet && brokerSet && nodeID.num != brokerID.num {
		fail("node.id", fmt.Sprintf("node.id (%d) and broker.id (%d) must match when both are set", nodeID.num, brokerID.num))
	}
	if v := s.resolved["log.roll.ms"]; v.num < 1 {
		fail("log.roll.ms", "the resolved log.roll.ms must be at least 1")
	}
	if v := s.resolved["log.roll.jitter.ms"]; v.num < 0 {
		fail("log.roll.jitter.ms", "the resolved log.roll.jitter.ms must be at least 0")
	}
	if v := s.resolved["log.retention.ms"]; v.num == 0 {
		fail("log.retention.ms", "the resolved log.retention.ms must be -1 (unlimited) or at least 1")
	}
	if lo, hi := s.resolved["log.cleaner.min.compaction.lag.ms"], s.resolved["log.cleaner.max.compaction.lag.ms"]; lo.num > hi.num {
		fail("log.cleaner.min.compaction.lag.ms", "must not exceed log.cleaner.max.compaction.lag.ms")
	}
	if err := s.checkListeners(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.checkCluster()...)
	return errors.Join(errs...)
}

// checkCluster checks the KRaft settings together, as KafkaConfig does: roles need voters
// and a controller listener; a controller is one of the voters and listens on the
// controller listener; a broker-only node is not a voter.
func (s *snapshot) checkCluster() []error {
	var errs []error
	fail := func(name, reason string) {
		errs = append(errs, &ConfigError{Name: name, Reason: reason, Err: ErrInvalidValue})
	}
	roles := s.resolved["process.roles"].list
	voters, _ := ParseVoters(s.resolved["controller.quorum.voters"].text)
	listeners, _ := ParseListeners(s.resolved["listeners"].text)
	controllerNames := controllerListenerNames(s.resolved["controller.listener.names"].text)
	nodeID := int32(s.resolved["node.id"].num)
	var controllerListener, clientListeners []string
	for _, l := range listeners {
		if slices.Contains(controllerNames, l.Name) {
			controllerListener = append(controllerListener, l.Name)
		} else {
			clientListeners = append(clientListeners, l.Name)
		}
	}
	if len(roles) == 0 {
		if len(voters) > 0 {
			fail("controller.quorum.voters", "is set but process.roles is empty; set process.roles to broker,controller (or broker)")
		}
		if len(controllerListener) > 0 {
			fail("listeners", fmt.Sprintf("listener %s is a controller listener but process.roles is empty", controllerListener[0]))
		}
		return errs
	}
	isController, isBroker := slices.Contains(roles, "controller"), slices.Contains(roles, "broker")
	_, isVoter := voters[nodeID]
	switch {
	case len(voters) == 0:
		fail("controller.quorum.voters", "process.roles is set, so the quorum's voters must be listed as id@host:port,...")
	case isController && !isVoter:
		fail("node.id", fmt.Sprintf("node.id %d is not one of controller.quorum.voters (%s) but process.roles includes controller",
			nodeID, s.resolved["controller.quorum.voters"].text))
	case !isController && isVoter:
		fail("node.id", fmt.Sprintf("node.id %d is one of controller.quorum.voters but process.roles does not include controller", nodeID))
	}
	if !isBroker && !isController {
		fail("process.roles", "must include broker, controller or both")
	}
	if len(controllerNames) == 0 {
		fail("controller.listener.names", "must name the controller listener (for example CONTROLLER) when process.roles is set")
	} else if len(controllerListener) == 0 {
		// Nagare: a broker-only node needs one too, since the quorum's leader sends the
		// metadata log to every node (Kafka's brokers fetch it from the controllers).
		fail("listeners", fmt.Sprintf("must include the controller listener %s://host:port (controller.listener.names) when process.roles is set", controllerNames[0]))
	}
	if len(controllerListener) > 1 {
		fail("listeners", "only one controller listener is supported")
	}
	if isBroker && len(clientListeners) == 0 {
		fail("listeners", "a broker needs a listener for Kafka clients besides the controller listener")
	}
	if !isBroker && len(clientListeners) > 0 {
		// As Kafka: a controller-only node serves no Kafka clients.
		fail("listeners", fmt.Sprintf("listener %s is not a controller listener, but process.roles does not include broker", clientListeners[0]))
	}
	protos, _ := ParseProtocolMap(s.resolved["listener.security.protocol.map"].text)
	for _, name := range controllerListener {
		// SSL secures the quorum's transport (metadata.TransportTLS); its peers are raft
		// nodes, not Kafka clients, so there is no SASL exchange to run on it.
		if p, ok := protos[name]; ok && p != ProtocolPlaintext && p != ProtocolSSL {
			fail("listener.security.protocol.map", fmt.Sprintf(
				"controller listener %s must be PLAINTEXT or SSL, not %s: SASL is not supported on the controller listener (use SSL with ssl.client.auth=required for mutual authentication)", name, p))
		}
	}
	if name := strings.ToUpper(s.resolved["inter.broker.listener.name"].text); name != "" && !slices.Contains(clientListeners, name) {
		fail("inter.broker.listener.name", fmt.Sprintf("%s is not one of the (non-controller) listeners", name))
	}
	return errs
}

// controllerListenerNames parses controller.listener.names, upper-cased as listener names are.
func controllerListenerNames(s string) []string {
	var out []string
	for _, n := range splitList(strings.TrimSpace(s)) {
		out = append(out, strings.ToUpper(n))
	}
	return out
}

// checkListeners requires every listener name to have a security protocol and every
// advertised listener to be one of the listeners, as Kafka does at startup.
func (s *snapshot) checkListeners() error {
	protos, _ := ParseProtocolMap(s.resolved["listener.security.protocol.map"].text)
	listeners, _ := ParseListeners(s.resolved["listeners"].text)
	controllers := controllerListenerNames(s.resolved["controller.listener.names"].text)
	names := make(map[string]bool)
	for _, l := range listeners {
		// As Kafka, a controller listener the map does not name is PLAINTEXT.
		if _, ok := protos[l.Name]; !ok && !slices.Contains(controllers, l.Name) {
			return &ConfigError{Name: "listeners", Err: ErrInvalidValue,
				Reason: fmt.Sprintf("listener %s has no security protocol in listener.security.protocol.map", l.Name)}
		}
		names[l.Name] = true
	}
	advertised, _ := ParseListeners(s.resolved["advertised.listeners"].text)
	for _, l := range advertised {
		if !names[l.Name] {
			return &ConfigError{Name: "advertised.listeners", Err: ErrInvalidValue,
				Reason: fmt.Sprintf("listener %s is not one of the listeners", l.Name)}
		}
	}
	return nil
}

// get returns the resolved value of a broker config for a getter, checking that the
// caller asked for a known name with a compatible type. Asking for an unknown name or the
// wrong type is a programming error, so it panics, as regexp.MustCompile does.
func (b *Broker) get(name, getter string, types ...Type) value {
	d := defs.broker[name]
	if d == nil {
		panic(fmt.Sprintf("config: %s(%q): unknown broker config", getter, name))
	}
	if !slices.Contains(types, d.Type) {
		panic(fmt.Sprintf("config: %s(%q): config is of type %s", getter, name, d.Type))
	}
	return b.snap.Load().resolved[name]
}

// Int returns an INT or SHORT broker config (node.id falls back to broker.id). An unset
// config with no default reads 0.
func (b *Broker) Int(name string) int { return int(b.get(name, "Int", TypeInt, TypeShort).num) }

// Long returns an integer broker config, synonyms resolved: Long("log.retention.ms") is
// log.retention.ms, else .minutes, else .hours, in milliseconds.
func (b *Broker) Long(name string) int64 {
	return b.get(name, "Long", TypeLong, TypeInt, TypeShort).num
}

// Bool returns a BOOLEAN broker config.
func (b *Broker) Bool(name string) bool { return b.get(name, "Bool", TypeBoolean).num != 0 }

// Double returns a DOUBLE broker config.
func (b *Broker) Double(name string) float64 { return b.get(name, "Double", TypeDouble).f }

// String returns a broker config as Kafka prints it; for STRING and PASSWORD configs that is
// the value itself. An unset config with no default reads "".
func (b *Broker) String(name string) string {
	return b.get(name, "String", TypeString, TypePassword, TypeClass, TypeBoolean,
		TypeInt, TypeShort, TypeLong, TypeDouble, TypeList).text
}

// List returns a LIST broker config (log.dirs falls back to log.dir). The slice is the
// caller's to keep.
func (b *Broker) List(name string) []string {
	return slices.Clone(b.get(name, "List", TypeList).list)
}

// Duration returns a time broker config (a name ending in .ms, .seconds, .minutes or
// .hours) with synonyms resolved, so Duration("log.retention.ms") honours
// log.retention.hours. Kafka's "unlimited" (-1) comes back negative; values too large for a
// time.Duration (Long.MAX_VALUE ms means never) saturate at the largest one.
func (b *Broker) Duration(name string) time.Duration {
	v := b.get(name, "Duration", TypeLong, TypeInt, TypeShort)
	unit := time.Millisecond
	switch {
	case strings.HasSuffix(name, ".ms"):
	case strings.HasSuffix(name, ".seconds"):
		unit = time.Second
	case strings.HasSuffix(name, ".minutes"):
		unit = time.Minute
	case strings.HasSuffix(name, ".hours"):
		unit = time.Hour
	default:
		panic(fmt.Sprintf("config: Duration(%q): not a time config", name))
	}
	return scaleDuration(v.num, unit)
}

// scaleDuration multiplies n by unit, saturating instead of overflowing.
func scaleDuration(n int64, unit time.Duration) time.Duration {
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64
	}
	if n < math.MinInt64/int64(unit) {
		return math.MinInt64
	}
	return time.Duration(n) * unit
}

// Millis converts a millisecond config value (a Topic field) to a time.Duration, saturating
// as Duration does; negative values (Kafka's -1, unlimited) stay negative.
func Millis(ms int64) time.Duration { return scaleDuration(ms, time.Millisecond) }

// IsSet reports whether name (known or not) is set in any dynamic or static layer, rather
// than read from its default.
func (b *Broker) IsSet(name string) bool {
	for _, l := range b.snap.Load().layers() {
		if _, ok := l.values[name]; ok {
			return true
		}
	}
	return false
}

// Raw returns name's text from the highest layer that sets it, for names this table does
// not know (an operator's or a plugin's own keys). Known names are better read with the
// typed getters, which also apply defaults and synonyms.
func (b *Broker) Raw(name string) (string, Source, bool) {
	for _, l := range b.snap.Load().layers() {
		if v, ok := l.values[name]; ok {
			return v, l.source, true
		}
	}
	return "", SourceUnknown, false
}

// Listeners returns the listeners that serve Kafka clients: the listeners config without
// the controller listener (controller.listener.names), which carries the metadata quorum.
func (b *Broker) Listeners() []Listener {
	ls, _ := ParseListeners(b.String("listeners")) // validated when set
	controllers := controllerListenerNames(b.String("controller.listener.names"))
	return slices.DeleteFunc(ls, func(l Listener) bool { return slices.Contains(controllers, l.Name) })
}

// ControllerListener returns the controller listener (the first name in
// controller.listener.names that listeners defines): where the metadata quorum's transport
// listens. False when there is none, as on a node without cluster settings.
func (b *Broker) ControllerListener() (Listener, bool) {
	ls, _ := ParseListeners(b.String("listeners"))
	for _, name := range controllerListenerNames(b.String("controller.listener.names")) {
		for _, l := range ls {
			if l.Name == name {
				return l, true
			}
		}
	}
	return Listener{}, false
}

// Roles returns process.roles: whether this node is a broker and whether it is a controller
// (a voter of the metadata quorum). A node without cluster settings is both: the one-node
// cluster is its own only voter.
func (b *Broker) Roles() (broker, controller bool) {
	roles := b.List("process.roles")
	if len(roles) == 0 {
		return true, true
	}
	return slices.Contains(roles, "broker"), slices.Contains(roles, "controller")
}

// Clustered reports whether process.roles is set: the node is one of a quorum configured
// by controller.quorum.voters rather than a one-node cluster.
func (b *Broker) Clustered() bool { return len(b.List("process.roles")) > 0 }

// Voters returns controller.quorum.voters by node ID; empty without cluster settings.
func (b *Broker) Voters() map[int32]string {
	v, _ := ParseVoters(b.String("controller.quorum.voters")) // validated when set
	return v
}

// AdvertisedListeners returns advertised.listeners, or the listeners when it is unset, as
// Kafka does.
func (b *Broker) AdvertisedListeners() []Listener {
	if s := b.String("advertised.listeners"); s != "" {
		ls, _ := ParseListeners(s)
		return ls
	}
	return b.Listeners()
}

// SecurityProtocol returns the security protocol of the named listener, and false when
// listener.security.protocol.map does not map it.
func (b *Broker) SecurityProtocol(listener string) (string, bool) {
	m, _ := ParseProtocolMap(b.String("listener.security.protocol.map"))
	p, ok := m[strings.ToUpper(listener)]
	if !ok && slices.Contains(controllerListenerNames(b.String("controller.listener.names")), strings.ToUpper(listener)) {
		return ProtocolPlaintext, true // as Kafka: an unmapped controller listener is PLAINTEXT
	}
	return p, ok
}
