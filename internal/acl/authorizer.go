package acl

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Config is the authorizer's static configuration, Kafka's config names in brackets.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed everything, whatever the ACLs say
	// (super.users).
	SuperUsers []string
	// AllowEveryoneIfNoACLFound allows an operation on a resource that has no ACL at all
	// (allow.everyone.if.no.acl.found).
	AllowEveryoneIfNoACLFound bool
}

// Authorizer decides whether a principal may perform an operation on a resource. It is
// safe for concurrent use; see the package doc for its rules and its cache.
type Authorizer struct {
	superUsers   map[string]bool // user names (without "User:"); never changes after New
	allowIfNoACL bool

	mu      sync.Mutex // serialises SetBindings
	current atomic.Pointer[index]
}

// New returns an authorizer with no ACLs.
func New(cfg Config) *Authorizer {
	a := &Authorizer{superUsers: map[string]bool{}, allowIfNoACL: cfg.AllowEveryoneIfNoACLFound}
	for _, p := range cfg.SuperUsers {
		if name, ok := strings.CutPrefix(strings.TrimSpace(p), UserPrefix); ok && name != "" {
			a.superUsers[name] = true
		}
	}
	a.current.Store(newIndex(0, nil))
	return a
}

// SetBindings replaces the ACLs with bindings, as of version (the metadata index of the
// last ACL change). A version not newer than the one in force is ignored, so callers
// racing to apply the same metadata need not coordinate. Cached decisions are dropped.
func (a *Authorizer) SetBindings(version uint64, bindings []Binding) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := a.current.Load(); version <= cur.version && cur.version != 0 {
		return
	}
	a.current.Store(newIndex(version, bindings))
}

// Version is the version of the ACLs in force.
func (a *Authorizer) Version() uint64 { return a.current.Load().version }

// IsSuperUser reports whether user (a name without "User:") is in super.users.
func (a *Authorizer) IsSuperUser(user string) bool { return a.superUsers[user] }

// Authorize decides whether user (a name without "User:"), connected from host (an IP
// address in NormalizeHost's form), may perform op on the resource of type rt named
// name. A cached decision costs a map lookup and no allocation.
func (a *Authorizer) Authorize(user, host string, op Operation, rt ResourceType, name string) bool {
	if len(a.superUsers) > 0 && a.superUsers[user] {
		return true
	}
	ix := a.current.Load()
	size := len(user) + len(host) + len(name)
	if size > maxCachedKeyBytes {
		// The names come from clients (a topic, group or transactional ID can be as long as
		// a frame), so caching them would let one client pin memory with distinct long
		// names. No valid Kafka name is this long, so such a request is rare or hostile
		// and can pay for its decision.
		return ix.decide(user, host, op, rt, name, a.allowIfNoACL)
	}
	key := decisionKey{user: user, host: host, name: name, rt: rt, op: op}
	shard := &ix.cache[key.shard()]
	shard.mu.RLock()
	allowed, ok := shard.m[key]
	shard.mu.RUnlock()
	if ok {
		return allowed
	}
	allowed = ix.decide(user, host, op, rt, name, a.allowIfNoACL)
	key.user, key.host, key.name = strings.Clone(user), strings.Clone(host), strings.Clone(name)
	shard.mu.Lock()
	cost := size + entryOverheadBytes
	if len(shard.m) >= maxShardEntries || shard.bytes+cost > maxShardBytes {
		clear(shard.m) // a crude bound: decisions are cheap to recompute
		shard.bytes = 0
	}
	if _, dup := shard.m[key]; !dup { // another goroutine decided it meanwhile
		shard.bytes += cost
	}
	shard.m[key] = allowed
	shard.mu.Unlock()
	return allowed
}

// AuthorizeByResourceType reports whether user may perform op on at least one resource
// of type rt, as Kafka's Authorizer.authorizeByResourceType decides it (InitProducerId
// without a transactional id asks it for WRITE on any topic). Not cached: it is rare.
func (a *Authorizer) AuthorizeByResourceType(user, host string, op Operation, rt ResourceType) bool {
	// A hard-coded name first, so super users and allow.everyone.if.no.acl.found apply.
	if a.Authorize(user, host, op, rt, "hardcode") {
		return true
	}
	ix := a.current.Load()
	denyLiteral, denyPrefix := map[string]bool{}, map[string]bool{}
	var allowLiteral, allowPrefix []string
	wildcardAllow := false
	for _, b := range ix.bindings {
		if b.ResourceType != rt || (b.Host != host && b.Host != Wildcard) {
			continue
		}
		if b.Principal != UserPrefix+user && b.Principal != WildcardPrincipal {
			continue
		}
		if b.Operation != op && b.Operation != OpAll {
			continue
		}
		literal := b.PatternType == PatternLiteral
		switch {
		case b.Permission == PermissionDeny && literal && b.ResourceName == Wildcard:
			return false
		case b.Permission == PermissionDeny && literal:
			denyLiteral[b.ResourceName] = true
		case b.Permission == PermissionDeny:
			denyPrefix[b.ResourceName] = true
		case literal && b.ResourceName == Wildcard:
			wildcardAllow = true // wins unless a wildcard DENY turns up later
		case literal:
			allowLiteral = append(allowLiteral, b.ResourceName)
		default:
			allowPrefix = append(allowPrefix, b.ResourceName)
		}
	}
	if wildcardAllow {
		return true
	}
	dominated := func(name string) bool {
		for i := 1; i <= len(name); i++ {
			if denyPrefix[name[:i]] {
				return true
			}
		}
		return false
	}
	for _, name := range allowLiteral {
		if !denyLiteral[name] && !dominated(name) {
			return true
		}
	}
	for _, name := range allowPrefix {
		if !dominated(name) {
			return true
		}
	}
	return false
}

// supportedOperations are the operations Kafka reports in authorized-operations bit
// fields, per resource type (AclEntry.supportedOperations).
var supportedOperations = map[ResourceType][]Operation{
	ResourceTopic:           {OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs},
	ResourceGroup:           {OpRead, OpDescribe, OpDelete, OpDescribeConfigs, OpAlterConfigs},
	ResourceCluster:         {OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe},
	ResourceTransactionalID: {OpDescribe, OpWrite},
	ResourceDelegationToken: {OpDescribe},
	ResourceUser:            {OpCreateTokens, OpDescribeTokens},
}

// AuthorizedOperations is the bit field Metadata, DescribeGroups and DescribeCluster
// return (KIP-430): bit n set when the operation with code n is allowed on the resource.
func (a *Authorizer) AuthorizedOperations(user, host string, rt ResourceType, name string) int32 {
	var bits int32
	for _, op := range supportedOperations[rt] {
		if a == nil || a.Authorize(user, host, op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// entry is one binding in the index, reduced to what a check compares.
type entry struct {
	user    string // the principal's name when it is a User principal
	anyUser bool   // User:*
	isUser  bool   // false for other principal types, which never match a Nagare user
	host    string
	op      Operation
	allow   bool
}

func (e *entry) matches(user, host string, op Operation) bool {
	if !e.isUser || (!e.anyUser && e.user != user) {
		return false
	}
	if e.host != Wildcard && e.host != host {
		return false
	}
	if e.op == OpAll || e.op == op {
		return true
	}
	if !e.allow {
		return false // implied operations are granted by ALLOW entries only
	}
	switch op {
	case OpDescribe:
		return e.op == OpRead || e.op == OpWrite || e.op == OpDelete || e.op == OpAlter
	case OpDescribeConfigs:
		return e.op == OpAlterConfigs
	}
	return false
}

// resourceACLs are the entries of one resource type, by how their pattern matches.
type resourceACLs struct {
	literal    map[string][]entry // by exact name, "*" excluded
	wildcard   []entry            // LITERAL "*"
	prefixed   map[string][]entry // by prefix
	prefixLens []int              // the distinct prefix lengths, ascending
}

// index is an immutable view of the ACLs with its own decision cache.
type index struct {
	version  uint64
	bindings []Binding
	byType   [ResourceUser + 1]*resourceACLs
	cache    [cacheShards]cacheShard
}

func newIndex(version uint64, bindings []Binding) *index {
	ix := &index{version: version, bindings: slices.Clone(bindings)}
	for i := range ix.cache {
		ix.cache[i].m = map[decisionKey]bool{}
	}
	for i := range ix.bindings {
		// Stored hosts may be in any IPv6 spelling (records written before CreateAcls
		// normalised them, or by Java tools), and checks compare strings.
		ix.bindings[i].Host = NormalizeHost(ix.bindings[i].Host)
	}
	for _, b := range ix.bindings {
		if b.ResourceType < 0 || int(b.ResourceType) >= len(ix.byType) {
			continue
		}
		r := ix.byType[b.ResourceType]
		if r == nil {
			r = &resourceACLs{literal: map[string][]entry{}, prefixed: map[string][]entry{}}
			ix.byType[b.ResourceType] = r
		}
		e := entry{host: b.Host, op: b.Operation, allow: b.Permission == PermissionAllow}
		if name, ok := strings.CutPrefix(b.Principal, UserPrefix); ok {
			e.isUser, e.user, e.anyUser = true, name, name == Wildcard
		}
		switch {
		case b.PatternType == PatternLiteral && b.ResourceName == Wildcard:
			r.wildcard = append(r.wildcard, e)
		case b.PatternType == PatternLiteral:
			r.literal[b.ResourceName] = append(r.literal[b.ResourceName], e)
		case b.PatternType == PatternPrefixed:
			if _, ok := r.prefixed[b.ResourceName]; !ok {
				r.prefixLens = append(r.prefixLens, len(b.ResourceName))
			}
			r.prefixed[b.ResourceName] = append(r.prefixed[b.ResourceName], e)
		}
	}
	for _, r := range ix.byType {
		if r != nil {
			slices.Sort(r.prefixLens)
			r.prefixLens = slices.Compact(r.prefixLens)
		}
	}
	return ix
}

// verdict accumulates a decision over the entries of the patterns that match a resource.
type verdict struct {
	hasACLs, allowed, denied bool
}

func (v *verdict) add(entries []entry, user, host string, op Operation) {
	if len(entries) > 0 {
		v.hasACLs = true
	}
	for i := range entries {
		if entries[i].matches(user, host, op) {
			if !entries[i].allow {
				v.denied = true
				return
			}
			v.allowed = true
		}
	}
}

// decide is StandardAuthorizerData.findAclRule without the cache.
func (ix *index) decide(user, host string, op Operation, rt ResourceType, name string, allowIfNoACL bool) bool {
	if rt < 0 || int(rt) >= len(ix.byType) || ix.byType[rt] == nil {
		return allowIfNoACL
	}
	r := ix.byType[rt]
	var v verdict
	v.add(r.literal[name], user, host, op)
	v.add(r.wildcard, user, host, op)
	for _, n := range r.prefixLens {
		if n > len(name) || v.denied {
			break
		}
		v.add(r.prefixed[name[:n]], user, host, op)
	}
	switch {
	case v.denied:
		return false
	case v.allowed:
		return true
	}
	return !v.hasACLs && allowIfNoACL
}

// The decision cache's bounds. Every shard is cleared when it reaches either, so the
// cache of one index holds at most cacheShards*maxShardBytes (8 MiB) of keys, whatever
// names clients send: a shard of typical keys (tens of bytes of names) fills its entry
// bound first, one of long names its byte bound.
const (
	cacheShards     = 64
	maxShardEntries = 1024
	maxShardBytes   = 128 << 10
	// maxCachedKeyBytes is the longest user, host and name together that is cached:
	// Kafka's longest valid topic name is 249 bytes, so legitimate keys fit.
	maxCachedKeyBytes = 512
	// entryOverheadBytes estimates what a map entry costs beyond its strings' bytes (the
	// key's three string headers, the codes and the map's own slot), so that many short
	// keys count too.
	entryOverheadBytes = 96
)

type decisionKey struct {
	user, host, name string
	rt               ResourceType
	op               Operation
}

// shard spreads keys by an FNV-1a hash of the name and user, computed without allocating.
func (k *decisionKey) shard() int {
	h := uint32(2166136261)
	for i := 0; i < len(k.name); i++ {
		h = (h ^ uint32(k.name[i])) * 16777619
	}
	for i := 0; i < len(k.user); i++ {
		h = (h ^ uint32(k.user[i])) * 16777619
	}
	h = (h ^ uint32(k.op)) * 16777619
	return int(h % cacheShards)
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[decisionKey]bool // guarded by mu
	bytes int                  // guarded by mu; the keys' string bytes plus entryOverheadBytes each
	_     [24]byte             // keep neighbouring shards' locks off one cache line
}
