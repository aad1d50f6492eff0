package acl

import (
	"testing"
)

func allow(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: Wildcard, Operation: op, Permission: PermissionAllow}
}

func deny(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	b := allow(rt, name, pt, principal, op)
	b.Permission = PermissionDeny
	return b
}

func TestAuthorize(t *testing.T) {
	const host = "10.0.0.1"
	bindings := []Binding{
		allow(ResourceTopic, "orders", PatternLiteral, "User:alice", OpRead),
		deny(ResourceTopic, "orders", PatternLiteral, "User:bob", OpRead),
		allow(ResourceTopic, "orders", PatternLiteral, "User:*", OpRead),
		allow(ResourceTopic, "billing.", PatternPrefixed, "User:carol", OpWrite),
		deny(ResourceTopic, "billing.secret", PatternPrefixed, "User:carol", OpWrite),
		allow(ResourceTopic, "*", PatternLiteral, "User:dave", OpAll),
		deny(ResourceTopic, "private", PatternLiteral, "User:dave", OpDescribe),
		allow(ResourceGroup, "g", PatternLiteral, "User:alice", OpAlterConfigs),
		deny(ResourceGroup, "g", PatternLiteral, "User:erin", OpRead),
		allow(ResourceGroup, "g", PatternLiteral, "User:erin", OpAll),
		{ResourceType: ResourceTopic, ResourceName: "hosted", PatternType: PatternLiteral, Principal: "User:frank",
			Host: "10.0.0.9", Operation: OpRead, Permission: PermissionAllow},
		allow(ResourceTopic, "billingx", PatternLiteral, "User:carol", OpRead),
	}
	a := New(Config{SuperUsers: []string{"User:root"}})
	a.SetBindings(1, bindings)
	tests := []struct {
		name  string
		user  string
		op    Operation
		rt    ResourceType
		res   string
		allow bool
	}{
		{"literal allow", "alice", OpRead, ResourceTopic, "orders", true},
		{"deny beats wildcard-principal allow", "bob", OpRead, ResourceTopic, "orders", false},
		{"wildcard principal", "zed", OpRead, ResourceTopic, "orders", true},
		{"read implies describe", "zed", OpDescribe, ResourceTopic, "orders", true},
		{"deny read does not deny describe", "bob", OpDescribe, ResourceTopic, "orders", true},
		{"read does not imply write", "alice", OpWrite, ResourceTopic, "orders", false},
		{"prefixed", "carol", OpWrite, ResourceTopic, "billing.eu", true},
		{"prefixed implies describe", "carol", OpDescribe, ResourceTopic, "billing.eu", true},
		{"longer prefixed deny", "carol", OpWrite, ResourceTopic, "billing.secret.x", false},
		{"prefix needs the dot", "carol", OpWrite, ResourceTopic, "billingx", false},
		{"literal is not a prefix", "alice", OpRead, ResourceTopic, "orders2", false},
		{"wildcard resource ALL", "dave", OpDelete, ResourceTopic, "anything", true},
		{"deny describe beats ALL", "dave", OpDescribe, ResourceTopic, "private", false},
		{"deny describe leaves read", "dave", OpRead, ResourceTopic, "private", true},
		{"alter configs implies describe configs", "alice", OpDescribeConfigs, ResourceGroup, "g", true},
		{"alter configs does not imply describe", "alice", OpDescribe, ResourceGroup, "g", false},
		{"deny beats ALL", "erin", OpRead, ResourceGroup, "g", false},
		{"ALL still allows others", "erin", OpDelete, ResourceGroup, "g", true},
		{"host must match", "frank", OpRead, ResourceTopic, "hosted", false},
		{"super user", "root", OpDelete, ResourceCluster, ClusterName, true},
		{"no acls on resource: deny by default", "alice", OpRead, ResourceCluster, ClusterName, false},
		{"other resource type", "alice", OpRead, ResourceGroup, "orders", false},
	}
	for _, tc := range tests {
		for range 2 { // the second round is served from the cache
			if got := a.Authorize(tc.user, host, tc.op, tc.rt, tc.res); got != tc.allow {
				t.Errorf("%s: Authorize(%s, %v, %v %s) = %v, want %v", tc.name, tc.user, tc.op, tc.rt, tc.res, got, tc.allow)
			}
		}
	}
	if !a.Authorize("frank", "10.0.0.9", OpRead, ResourceTopic, "hosted") {
		t.Error("frank from his host should read")
	}
}

func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	a := New(Config{AllowEveryoneIfNoACLFound: true})
	a.SetBindings(1, []Binding{allow(ResourceTopic, "owned", PatternLiteral, "User:alice", OpRead)})
	if !a.Authorize("bob", "h", OpWrite, ResourceTopic, "free") {
		t.Error("a topic without ACLs should be open to everyone")
	}
	if a.Authorize("bob", "h", OpRead, ResourceTopic, "owned") {
		t.Error("a topic with ACLs, none matching bob, should be denied")
	}
	if a.Authorize("alice", "h", OpWrite, ResourceTopic, "owned") {
		t.Error("a topic with ACLs, none matching alice's WRITE, should be denied")
	}
}

func TestSetBindingsInvalidatesCache(t *testing.T) {
	a := New(Config{})
	if a.Authorize("alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("allowed without ACLs")
	}
	a.SetBindings(5, []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)})
	if !a.Authorize("alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("not allowed after the ACL was added")
	}
	a.SetBindings(4, nil) // older: ignored
	if !a.Authorize("alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("an older version replaced a newer one")
	}
	a.SetBindings(6, nil)
	if a.Authorize("alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("still allowed after the ACL was removed")
	}
}

// cachedBytes is what the index's decision cache holds: the keys' string bytes, and the
// shards' own accounting of them.
func cachedBytes(ix *index) (keys, accounted, entries int) {
	for i := range ix.cache {
		sh := &ix.cache[i]
		sh.mu.RLock()
		for k := range sh.m {
			keys += len(k.user) + len(k.host) + len(k.name)
		}
		accounted += sh.bytes
		entries += len(sh.m)
		sh.mu.RUnlock()
	}
	return keys, accounted, entries
}

// TestCacheBounded feeds the cache distinct client-chosen names: 32 KiB ones (which once
// kept 784 MiB for 20,000 names) are not cached at all, and many names short enough to
// cache are held to the byte bound.
func TestCacheBounded(t *testing.T) {
	a := New(Config{AllowEveryoneIfNoACLFound: true})
	a.SetBindings(1, []Binding{allow(ResourceTopic, "owned", PatternLiteral, "User:alice", OpRead)})
	// Distinct names without allocating each: windows onto one random string.
	var rng uint64 = 1
	random := make([]byte, 64<<10)
	for i := range random {
		rng = rng*6364136223846793005 + 1442695040888963407
		random[i] = 'a' + byte(rng>>59)%26
	}
	text := string(random)

	for i := range 2000 {
		if !a.Authorize("bob", "10.0.0.1", OpWrite, ResourceTopic, text[i:i+32<<10]) {
			t.Fatal("a long name without ACLs was denied")
		}
	}
	if keys, _, entries := cachedBytes(a.current.Load()); keys != 0 || entries != 0 {
		t.Fatalf("long names cached: %d entries, %d bytes", entries, keys)
	}

	const name = maxCachedKeyBytes - len("bob") - len("10.0.0.1")
	for i := range 40_000 {
		a.Authorize("bob", "10.0.0.1", OpWrite, ResourceTopic, text[i:i+name])
	}
	keys, accounted, entries := cachedBytes(a.current.Load())
	if keys > cacheShards*maxShardBytes || accounted > cacheShards*maxShardBytes {
		t.Fatalf("cache holds %d bytes of keys (%d accounted), bound %d", keys, accounted, cacheShards*maxShardBytes)
	}
	if want := keys + entries*entryOverheadBytes; accounted != want {
		t.Fatalf("cache accounts %d bytes for %d entries of %d key bytes, want %d", accounted, entries, keys, want)
	}
	if entries == 0 {
		t.Fatal("names of a valid length are not cached")
	}
	// Long or not, decisions are still right.
	if a.Authorize("bob", "10.0.0.1", OpRead, ResourceTopic, "owned") || !a.Authorize("alice", "10.0.0.1", OpRead, ResourceTopic, "owned") {
		t.Fatal("wrong decision on a topic with ACLs")
	}
}

// TestHostSpellings checks that an ACL's host and the client's are compared as
// addresses: Java's tools write IPv6 in full ("0:0:0:0:0:0:0:1"), Go prints it
// compressed, and a zone is dropped on both sides.
func TestHostSpellings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*", "*"},
		{"10.0.0.1", "10.0.0.1"},
		{"0:0:0:0:0:0:0:1", "::1"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"FE80:0:0:0:0:0:0:1%eth0", "fe80::1"},
		{"fe80::1%2", "fe80::1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := NormalizeHost(tc.in); got != tc.want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	hosted := func(host string) Binding {
		b := allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)
		b.Host = host
		return b
	}
	a := New(Config{})
	a.SetBindings(1, []Binding{hosted("0:0:0:0:0:0:0:1"), hosted("fe80:0:0:0:0:0:0:2%3")})
	for host, want := range map[string]bool{"::1": true, "fe80::2": true, "::2": false, "10.0.0.1": false} {
		if got := a.Authorize("alice", host, OpRead, ResourceTopic, "t"); got != want {
			t.Errorf("ACL host in Java's spelling, client %s: allowed %v, want %v", host, got, want)
		}
	}
	if !a.AuthorizeByResourceType("alice", "::1", OpRead, ResourceTopic) {
		t.Error("AuthorizeByResourceType missed the ACL in Java's spelling")
	}
	full := "0:0:0:0:0:0:0:1"
	if !(Filter{ResourceType: ResourceAny, PatternType: PatternAny, Host: &full, Operation: OpAny, Permission: PermissionAny}).Matches(hosted("::1")) {
		t.Error("a filter in Java's spelling does not match the ACL")
	}
}

func TestAuthorizeByResourceType(t *testing.T) {
	tests := []struct {
		name     string
		bindings []Binding
		want     bool
	}{
		{"none", nil, false},
		{"literal allow", []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)}, true},
		{"literal allow denied", []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite),
			deny(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)}, false},
		{"prefix deny dominates", []Binding{allow(ResourceTopic, "ab", PatternPrefixed, "User:alice", OpWrite),
			deny(ResourceTopic, "a", PatternPrefixed, "User:*", OpWrite)}, false},
		{"wildcard deny", []Binding{allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpAll),
			deny(ResourceTopic, "*", PatternLiteral, "User:alice", OpWrite)}, false},
		{"wildcard allow", []Binding{allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpAll),
			deny(ResourceTopic, "x", PatternLiteral, "User:alice", OpWrite)}, true},
		{"other op", []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)}, false},
	}
	for _, tc := range tests {
		a := New(Config{})
		a.SetBindings(1, tc.bindings)
		if got := a.AuthorizeByResourceType("alice", "h", OpWrite, ResourceTopic); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if !New(Config{SuperUsers: []string{"User:alice"}}).AuthorizeByResourceType("alice", "h", OpWrite, ResourceTopic) {
		t.Error("super user denied")
	}
}

func TestAuthorizedOperations(t *testing.T) {
	a := New(Config{})
	a.SetBindings(1, []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)})
	got := a.AuthorizedOperations("alice", "h", ResourceTopic, "t")
	if want := int32(1<<OpRead | 1<<OpDescribe); got != want {
		t.Errorf("AuthorizedOperations = %b, want %b", got, want)
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := allow(ResourceTopic, "orders", PatternLiteral, "User:alice", OpRead)
	wild := allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpRead)
	pre := allow(ResourceTopic, "ord", PatternPrefixed, "User:alice", OpRead)
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	tests := []struct {
		name string
		f    func(Filter) Filter
		b    Binding
		want bool
	}{
		{"any", func(f Filter) Filter { return f }, pre, true},
		{"match literal", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, s("orders"); return f }, lit, true},
		{"match wildcard", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, s("orders"); return f }, wild, true},
		{"match prefix", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, s("orders"); return f }, pre, true},
		{"match other", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, s("x"); return f }, pre, false},
		{"any pattern exact name", func(f Filter) Filter { f.ResourceName = s("orders"); return f }, pre, false},
		{"literal type", func(f Filter) Filter { f.PatternType = PatternLiteral; return f }, pre, false},
		{"principal", func(f Filter) Filter { f.Principal = s("User:bob"); return f }, lit, false},
		{"host", func(f Filter) Filter { f.Host = s("*"); return f }, lit, true},
		{"operation", func(f Filter) Filter { f.Operation = OpWrite; return f }, lit, false},
		{"permission", func(f Filter) Filter { f.Permission = PermissionDeny; return f }, lit, false},
		{"resource type", func(f Filter) Filter { f.ResourceType = ResourceGroup; return f }, lit, false},
	}
	for _, tc := range tests {
		if got := tc.f(any).Matches(tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Binding){
		func(b *Binding) { b.ResourceType = ResourceAny },
		func(b *Binding) { b.ResourceType = 42 },
		func(b *Binding) { b.PatternType = PatternMatch },
		func(b *Binding) { b.Operation = OpAny },
		func(b *Binding) { b.Permission = PermissionAny },
		func(b *Binding) { b.ResourceName = "" },
		func(b *Binding) { b.ResourceType, b.ResourceName = ResourceCluster, "c" },
		func(b *Binding) { b.Principal = "alice" },
	}
	for i, f := range bad {
		b := good
		f(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("case %d: %v validated", i, b)
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	for op := OpAny; op <= OpDescribeTokens; op++ {
		text, err := op.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Operation
		if err := back.UnmarshalText(text); err != nil || back != op {
			t.Errorf("%v round-tripped to %v, %v", op, back, err)
		}
	}
	if op, ok := ParseOperation("describe-configs"); !ok || op != OpDescribeConfigs {
		t.Errorf("ParseOperation = %v, %v", op, ok)
	}
}

// BenchmarkAuthorize measures the hot-path check: a cached decision among many ACLs.
func BenchmarkAuthorize(b *testing.B) {
	var bindings []Binding
	for i := range 1000 {
		name := "tenant" + string(rune('a'+i%26)) + "." + string(rune('a'+i/26%26))
		bindings = append(bindings, allow(ResourceTopic, name, PatternPrefixed, "User:u"+name, OpWrite))
	}
	bindings = append(bindings, allow(ResourceTopic, "billing.", PatternPrefixed, "User:alice", OpWrite))
	a := New(Config{SuperUsers: []string{"User:admin"}})
	a.SetBindings(1, bindings)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !a.Authorize("alice", "127.0.0.1", OpWrite, ResourceTopic, "billing.events") {
				b.Fatal("denied")
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.Authorize("alice", "127.0.0.1", OpWrite, ResourceTopic, "billing.events")
			}
		})
	})
	// Many ACLs on the wildcard (one per tenant user): every check of any topic scans them
	// all unless cached.
	wide := New(Config{})
	var wildcards []Binding
	for i := range 1000 {
		wildcards = append(wildcards, allow(ResourceTopic, "*", PatternLiteral, "User:u"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('0'+i/676)), OpRead))
	}
	wide.SetBindings(1, append(wildcards, allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpWrite)))
	b.Run("wide-cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wide.Authorize("alice", "127.0.0.1", OpWrite, ResourceTopic, "billing.events")
		}
	})
	b.Run("wide-uncached", func(b *testing.B) {
		b.ReportAllocs()
		ix := wide.current.Load()
		for b.Loop() {
			ix.decide("alice", "127.0.0.1", OpWrite, ResourceTopic, "billing.events", false)
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		ix := a.current.Load()
		for b.Loop() {
			if !ix.decide("alice", "127.0.0.1", OpWrite, ResourceTopic, "billing.events", false) {
				b.Fatal("denied")
			}
		}
	})
}
