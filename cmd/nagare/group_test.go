package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestGroupCommands runs one group's life through every group subcommand,
// against kfake and against a real Nagare broker, with the same expectations.
func TestGroupCommands(t *testing.T) {
	for _, cluster := range []struct {
		name  string
		start func(*testing.T) string
	}{
		{"kfake", startKfake},
		{"nagare", startNagare},
	} {
		t.Run(cluster.name, func(t *testing.T) { testGroupCommands(t, cluster.start(t)) })
	}
}

// startNagare starts a Nagare broker that forms new groups without Kafka's
// three-second wait for more members.
func startNagare(t *testing.T) string {
	b := brokertest.Start(t, brokertest.WithProperties(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	return b.Addr()
}

func testGroupCommands(t *testing.T, boot string) {
	with := func(args ...string) []string { return append(args, "--bootstrap", boot) }
	group := func(args ...string) []string { return with(append([]string{"group"}, args...)...) }

	// orders holds 5, 3 and 1 records in partitions 0, 1, 2; events holds
	// 3 records, then, after a pause at `between`, 2 more.
	mustRun(t, "", with("topic", "create", "orders", "-p", "3")...)
	mustRun(t, "", with("topic", "create", "events", "-p", "1")...)
	for p, n := range []int{5, 3, 1} {
		mustRun(t, strings.Repeat("x\n", n), with("produce", "orders", "--partition", strconv.Itoa(p), "-q")...)
	}
	mustRun(t, "a\nb\nc\n", with("produce", "events", "-q")...)
	time.Sleep(20 * time.Millisecond)
	between := time.Now()
	time.Sleep(20 * time.Millisecond)
	mustRun(t, "d\ne\n", with("produce", "events", "-q")...)

	consumer := joinGroup(t, boot, "app", 14, "orders", "events")
	commitOffsets(t, consumer, map[string]map[int32]int64{"orders": {0: 2, 1: 3}, "events": {0: 5}})

	// list: a table by default, JSON on request, filtered by state.
	r := mustRun(t, "", group("list")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "GROUP STATE PROTOCOL-TYPE TYPE COORDINATOR" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "app Stable consumer classic ") {
		t.Errorf("group list:\n%s", r.stdout)
	}
	if got := listGroupsJSON(t, group("list", "--state", "stable", "-o", "json")...); got != "app:Stable:consumer:classic" {
		t.Errorf("group list --state stable: %s", got)
	}
	if got := listGroupsJSON(t, group("list", "--state", "Empty,Dead", "-o", "json")...); got != "" {
		t.Errorf("group list --state Empty,Dead: %s", got)
	}

	// describe: state, members with their assignments, offsets and lag.
	d := describeGroupsJSON(t, group("describe", "app", "-o", "json")...)
	if len(d) != 1 {
		t.Fatalf("describe app: %+v", d)
	}
	if g := d[0]; g.Group != "app" || g.State != "Stable" || g.Type != "classic" || g.ProtocolType != "consumer" ||
		g.Protocol != "range" || g.Coordinator.Host == "" || g.Coordinator.Port == 0 || g.TotalLag != 3 ||
		len(g.Members) != 1 || g.Members[0].ClientID != "group-test" || g.Members[0].MemberID == "" ||
		g.Members[0].InstanceID != nil || assignmentString(g.Members[0].Assignment) != "events:0 orders:0-2" {
		t.Errorf("describe app: %+v", g)
	}
	wantOffsets(t, "describe app", d[0].Offsets, "events:0 5 5 0", "orders:0 2 5 3", "orders:1 3 3 0", "orders:2 - 1 -")
	for _, o := range d[0].Offsets {
		if o.MemberID != d[0].Members[0].MemberID || o.ClientID != "group-test" {
			t.Errorf("offset of %s:%d is not attributed to the member: %+v", o.Topic, o.Partition, o)
		}
	}
	r = mustRun(t, "", group("describe", "app")...)
	for _, want := range []string{"Group:", "Stable", "range", "Total lag:", "MEMBER-ID", "group-test", "events:0 orders:0-2",
		"CURRENT-OFFSET", "LOG-END-OFFSET"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe output lacks %q:\n%s", want, r.stdout)
		}
	}
	if all := describeGroupsJSON(t, group("describe", "-o", "json")...); len(all) != 1 || all[0].Group != "app" || all[0].TotalLag != 3 {
		t.Errorf("describe without a group: %+v", all)
	}
	wantOneLineError(t, nagare(t, "", group("describe", "missing")...), exitFailure, `group "missing" does not exist`)
	r = nagare(t, "", group("describe", "app", "missing", "-o", "json")...)
	wantOneLineError(t, r, exitFailure, `group "missing" does not exist`)
	var partial []groupDescription
	if decodeJSON(t, r.stdout, &partial); len(partial) != 1 || partial[0].Group != "app" {
		t.Errorf("describe app missing: %+v", partial)
	}

	// lag: per partition, per topic and in total.
	l := lagJSON(t, group("lag", "app", "-o", "json")...)
	if len(l) != 1 || l[0].State != "Stable" || l[0].TotalLag != 3 || fmt.Sprint(l[0].Topics) != "[{events 0} {orders 3}]" {
		t.Errorf("lag app: %+v", l)
	}
	r = mustRun(t, "", group("lag", "app")...)
	for _, want := range []string{"app  orders  0  2  5  3", "app  orders  2  -  1  -", "app  Stable  orders  3", "app  Stable  (all)  3"} {
		if !strings.Contains(squeeze(r.stdout), want) {
			t.Errorf("lag output lacks %q:\n%s", want, r.stdout)
		}
	}

	// While the consumer is in the group: a dry run plans, --execute and
	// delete are refused, and offsets of subscribed topics stay.
	r = mustRun(t, "", group("reset-offsets", "app", "--topic", "orders", "--to-earliest")...)
	if !strings.Contains(squeeze(r.stdout), "app  orders  0  2  0") || !strings.Contains(squeeze(r.stdout), "app  orders  2  -  0") ||
		!strings.Contains(r.stderr, "--execute is refused") {
		t.Errorf("dry run while active: stdout\n%s\nstderr %q", r.stdout, r.stderr)
	}
	wantLag(t, boot, "app", "events:0 5 5 0", "orders:0 2 5 3", "orders:1 3 3 0", "orders:2 - 1 -")
	wantOneLineError(t, nagare(t, "", group("reset-offsets", "app", "--all-topics", "--to-earliest", "--execute")...),
		exitFailure, `group "app": it is Stable with 1 member, and offsets can only be reset while the group is inactive`)
	wantOneLineError(t, nagare(t, "", group("delete", "app")...), exitFailure, `group "app" is not empty: it is Stable with 1 member`)
	r = nagare(t, "", group("delete-offsets", "app", "--topic", "events")...)
	wantOneLineError(t, r, exitFailure, `group "app" kept its offsets for events:0 (a member of the group subscribes to the topic)`)

	consumer.Close()
	waitGroupState(t, boot, "app", "Empty")

	// Now the group is empty, resets are committed.
	var plan resetPlan
	decodeJSON(t, mustRun(t, "", group("reset-offsets", "app", "--topic", "orders", "--to-earliest", "--execute", "-o", "json")...).stdout, &plan)
	if !plan.Executed || plan.State != "Empty" || len(plan.Offsets) != 3 || plan.Offsets[2].CurrentOffset != nil || plan.Offsets[2].NewOffset != 0 {
		t.Errorf("reset --to-earliest --execute: %+v", plan)
	}
	wantLag(t, boot, "app", "events:0 5 5 0", "orders:0 0 5 5", "orders:1 0 3 3", "orders:2 0 1 1")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--all-topics", "--to-latest"}, []string{"events:0 5 5 0", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0"}},
		{[]string{"--topic", "orders:0,1", "--to-offset", "4"}, []string{"events:0 5 5 0", "orders:0 4 5 1", "orders:1 3 3 0", "orders:2 1 1 0"}},
		{[]string{"--topic", "orders", "--shift-by", "-2"}, []string{"events:0 5 5 0", "orders:0 2 5 3", "orders:1 1 3 2", "orders:2 0 1 1"}},
		{[]string{"--all-topics", "--shift-by", "10"}, []string{"events:0 5 5 0", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0"}},
		{[]string{"--topic", "events", "--to-datetime", "@" + strconv.FormatInt(between.UnixMilli(), 10)},
			[]string{"events:0 3 5 2", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0"}},
		{[]string{"--topic", "events:0", "--to-datetime", between.Add(time.Hour).Format(time.RFC3339)},
			[]string{"events:0 5 5 0", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0"}},
		{[]string{"--topic", "events", "--to-datetime", between.UTC().Format(time.RFC3339Nano)},
			[]string{"events:0 3 5 2", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0"}},
	} {
		r := mustRun(t, "", group(append([]string{"reset-offsets", "app", "--execute"}, tc.args...)...)...)
		if !strings.Contains(r.stderr, "Committed ") {
			t.Errorf("reset %v: stderr %q", tc.args, r.stderr)
		}
		wantLag(t, boot, "app", tc.want...)
	}
	r = mustRun(t, "", group("reset-offsets", "app", "--topic", "orders:1", "--to-offset", "99")...)
	if !strings.Contains(r.stderr, "orders:1: the target is outside the log; using 3") || !strings.Contains(r.stderr, "Dry run") {
		t.Errorf("clamped dry run: stderr %q", r.stderr)
	}
	r = nagare(t, "", group("reset-offsets", "app", "--topic", "orders:7", "--to-latest")...)
	wantOneLineError(t, r, exitFailure, `topic "orders" has no partition 7 (it has 3)`)
	r = nagare(t, "", group("reset-offsets", "app", "--topic", "nope", "--to-latest")...)
	wantOneLineError(t, r, exitFailure, `topic "nope" does not exist`)

	// A group the cluster does not know starts with the reset offsets.
	mustRun(t, "", group("reset-offsets", "fresh", "--topic", "orders", "--to-offset", "1", "--execute")...)
	wantLag(t, boot, "fresh", "orders:0 1 5 4", "orders:1 1 3 2", "orders:2 1 1 0")
	wantOneLineError(t, nagare(t, "", group("reset-offsets", "never", "--topic", "orders", "--shift-by", "1")...),
		exitFailure, "the group has none for orders:0, orders:1, orders:2")

	// delete-offsets, then delete.
	r = mustRun(t, "", group("delete-offsets", "app", "--topic", "events")...)
	if !strings.Contains(squeeze(r.stdout), "events  0  deleted") {
		t.Errorf("delete-offsets: %s", r.stdout)
	}
	wantLag(t, boot, "app", "orders:0 5 5 0", "orders:1 3 3 0", "orders:2 1 1 0")
	if got := listGroupsJSON(t, group("list", "--state", "EMPTY", "-o", "json")...); got != "app:Empty:consumer:classic,fresh:Empty::classic" &&
		got != "app:Empty:consumer:classic,fresh:Empty:consumer:classic" {
		t.Errorf("group list --state EMPTY: %s", got)
	}
	r = mustRun(t, "", group("delete", "app", "fresh")...)
	if r.stdout != "Deleted group \"app\".\nDeleted group \"fresh\".\n" {
		t.Errorf("delete printed %q", r.stdout)
	}
	r = nagare(t, "", group("delete", "app", "-o", "json")...)
	wantOneLineError(t, r, exitFailure, `group "app" does not exist`)
	var deleted []groupDeletion
	if decodeJSON(t, r.stdout, &deleted); len(deleted) != 1 || deleted[0].Deleted || deleted[0].Error != `group "app" does not exist` {
		t.Errorf("delete of a deleted group: %+v", deleted)
	}
	if r = mustRun(t, "", group("list", "-o", "json")...); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("groups left after delete: %s", r.stdout)
	}
}

// TestGroupDescribeConsumerProtocol describes a KIP-848 group, which
// Kafka describes only through ConsumerGroupDescribe. Nagare does not serve
// KIP-848 groups yet, so this runs against kfake.
func TestGroupDescribeConsumerProtocol(t *testing.T) {
	boot := startKfake(t)
	with := func(args ...string) []string { return append(args, "--bootstrap", boot) }
	mustRun(t, "", with("topic", "create", "orders", "-p", "2")...)
	mustRun(t, "x\nx\n", with("produce", "orders", "--partition", "0", "-q")...)
	consumer := joinGroup(t, boot, "next", 2, "orders", kgo.ServerSideBalancer())
	commitOffsets(t, consumer, map[string]map[int32]int64{"orders": {0: 1}})

	d := describeGroupsJSON(t, with("group", "describe", "next", "-o", "json")...)
	if len(d) != 1 || d[0].Type != "consumer" || d[0].State != "Stable" || d[0].Protocol != "range" ||
		len(d[0].Members) != 1 || assignmentString(d[0].Members[0].Assignment) != "orders:0-1" {
		t.Fatalf("describe of a KIP-848 group: %+v", d)
	}
	wantOffsets(t, "describe next", d[0].Offsets, "orders:0 1 2 1", "orders:1 - 0 -")
}

func TestGroupUsageErrors(t *testing.T) {
	reset := func(args ...string) []string { return append([]string{"group", "reset-offsets"}, args...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"group", "bogus"}, `unknown command "bogus" for "nagare group"`},
		{[]string{"group", "list", "--state", "Sleeping"}, `--state "Sleeping": want one of Stable, Empty`},
		{[]string{"group", "lag"}, "needs at least 1 GROUP"},
		{[]string{"group", "delete"}, "needs at least 1 GROUP"},
		{reset("g", "--topic", "t"), "choose where to move the offsets"},
		{reset("g", "--topic", "t", "--to-earliest", "--shift-by", "1"), "give only one of --to-earliest, --shift-by"},
		{reset("g", "--to-earliest"), "name the partitions to reset"},
		{reset("g", "--topic", "t", "--all-topics", "--to-earliest"), "name the partitions to reset"},
		{reset("g", "--topic", "t", "--to-earliest", "--dry-run", "--execute"), "--dry-run and --execute exclude each other"},
		{reset("g", "--topic", "t:x", "--to-earliest"), `--topic "t:x": partitions are numbers or ranges`},
		{reset("g", "--topic", "t", "--to-offset", "-1"), "--to-offset must not be negative"},
		{reset("g", "--topic", "t", "--to-datetime", "yesterday"), `--to-datetime "yesterday": want RFC 3339`},
		{reset("g", "h", "--topic", "t", "--to-latest"), "takes 1 argument(s): GROUP"},
		{[]string{"group", "delete-offsets", "g"}, "name the topics whose offsets to delete"},
	} {
		r := nagare(t, "", tc.args...)
		if r.code != exitUsage {
			t.Errorf("nagare %v: exit %d, want %d (stderr %q)", tc.args, r.code, exitUsage, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tc.want) || !strings.HasPrefix(lines[1], "Run 'nagare group") {
			t.Errorf("nagare %v: stderr %q, want %q and a help hint", tc.args, r.stderr, tc.want)
		}
	}
}

func TestParseTopicSelection(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"orders", "orders []"},
		{"orders:0", "orders [0]"},
		{"orders:2,0,4-6,5", "orders [2 0 4 5 6]"},
	} {
		sel, err := parseTopicSelection(tc.in)
		if got := fmt.Sprint(sel.topic, " ", sel.partitions); err != nil || got != tc.want {
			t.Errorf("parseTopicSelection(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", ":1", "t:", "t:-1", "t:3-1", "t:1,,2"} {
		if _, err := parseTopicSelection(bad); err == nil {
			t.Errorf("parseTopicSelection(%q) succeeded", bad)
		}
	}
}

// joinGroup starts a consumer in group that reads topics from the start
// and returns once it has read records records; the test closes it, or
// cleanup does.
func joinGroup(t *testing.T, boot, group string, records int, topicsAndOpts ...any) *kgo.Client {
	t.Helper()
	opts := []kgo.Opt{
		kgo.SeedBrokers(boot),
		kgo.ClientID("group-test"),
		kgo.ConsumerGroup(group),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	var topics []string
	for _, v := range topicsAndOpts {
		switch v := v.(type) {
		case string:
			topics = append(topics, v)
		case kgo.Opt:
			opts = append(opts, v)
		}
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topics...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for got := 0; got < records; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group %q read %d of %d records: %v", group, got, records, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s:%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	return cl
}

// commitOffsets commits offsets as the group's member.
func commitOffsets(t *testing.T, cl *kgo.Client, offsets map[string]map[int32]int64) {
	t.Helper()
	epochOffsets := make(map[string]map[int32]kgo.EpochOffset)
	for topic, ps := range offsets {
		epochOffsets[topic] = make(map[int32]kgo.EpochOffset)
		for p, o := range ps {
			epochOffsets[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	var commitErr error
	cl.CommitOffsetsSync(t.Context(), epochOffsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 && commitErr == nil {
					commitErr = fmt.Errorf("%s:%d: error code %d", rt.Topic, rp.Partition, rp.ErrorCode)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
}

// waitGroupState waits until group is in state, as describe reports it.
func waitGroupState(t *testing.T, boot, group, state string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d := describeGroupsJSON(t, "group", "describe", group, "-o", "json", "--bootstrap", boot)
		if last = d[0].State; last == state {
			return
		}
	}
	t.Fatalf("group %q is %s, not %s", group, last, state)
}

// wantLag checks `group lag` of one group against "topic:partition current
// end lag" lines.
func wantLag(t *testing.T, boot, group string, want ...string) {
	t.Helper()
	l := lagJSON(t, "group", "lag", group, "-o", "json", "--bootstrap", boot)
	if len(l) != 1 {
		t.Fatalf("lag %s: %+v", group, l)
	}
	wantOffsets(t, "lag "+group, l[0].Offsets, want...)
}

func wantOffsets(t *testing.T, what string, offsets []partitionOffset, want ...string) {
	t.Helper()
	got := make([]string, len(offsets))
	for i, o := range offsets {
		got[i] = fmt.Sprintf("%s:%d %s %s %s", o.Topic, o.Partition,
			offsetString(o.CurrentOffset), offsetString(nonNegative(o.LogEndOffset)), offsetString(o.Lag))
		if o.Error != "" {
			got[i] += " " + o.Error
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: offsets\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func describeGroupsJSON(t *testing.T, args ...string) []groupDescription {
	t.Helper()
	var d []groupDescription
	decodeJSON(t, mustRun(t, "", args...).stdout, &d)
	return d
}

func lagJSON(t *testing.T, args ...string) []groupLag {
	t.Helper()
	var l []groupLag
	decodeJSON(t, mustRun(t, "", args...).stdout, &l)
	return l
}

// listGroupsJSON runs `group list -o json` and returns its groups as
// "group:state:protocol-type:type", comma-separated.
func listGroupsJSON(t *testing.T, args ...string) string {
	t.Helper()
	var groups []groupSummary
	decodeJSON(t, mustRun(t, "", args...).stdout, &groups)
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strings.Join([]string{g.Group, g.State, g.ProtocolType, g.Type}, ":")
	}
	return strings.Join(s, ",")
}

// squeeze turns every run of spaces in table output into two spaces.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), "  ")
	}
	return strings.Join(lines, "\n")
}
