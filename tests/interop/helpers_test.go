package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// clientTimeout bounds every client subprocess; the work each one does takes well
// under a second, so hitting it means a hang worth a failure.
const clientTimeout = 45 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runClient runs a client binary with stdin and returns its stdout; a non-zero exit
// or a timeout fails the test with everything the client wrote.
func runClient(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runClientErr(t, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runClientErr is runClient for callers that look at a failure themselves.
func runClientErr(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second // do not wait forever on pipes a killed client left open
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("client timed out after "+clientTimeout.String()))
	}
	return out.String(), errOut.String(), err
}

// createTopic creates a topic with franz-go, so a client test starts from a known
// layout rather than from auto-creation.
func createTopic(t *testing.T, b *brokertest.Broker, topic string, partitions int32) {
	t.Helper()
	resp, err := b.Admin().CreateTopic(testContext(t), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// readAll reads every record of topic with franz-go, up to the end offsets at the
// time of the call, ordered by partition then offset.
func readAll(t *testing.T, b *brokertest.Broker, topic string) []*kgo.Record {
	t.Helper()
	ctx := testContext(t)
	ends, err := b.Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	want := int64(0)
	partitions := map[int32]map[int64]*kgo.Record{}
	ends.Each(func(o kadm.ListedOffset) {
		want += o.Offset
		partitions[o.Partition] = map[int64]*kgo.Record{}
	})
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	got := int64(0)
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s: %v", got, want, topic, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		for _, r := range fs.Records() {
			if _, dup := partitions[r.Partition][r.Offset]; !dup {
				partitions[r.Partition][r.Offset] = r
				got++
			}
		}
	}
	var out []*kgo.Record
	for p := int32(0); int(p) < len(partitions); p++ {
		for o := int64(0); ; o++ {
			r, ok := partitions[p][o]
			if !ok {
				break
			}
			out = append(out, r)
		}
	}
	if int64(len(out)) != want {
		t.Fatalf("%s: offsets are not contiguous from 0: %d records in order of %d read", topic, len(out), want)
	}
	return out
}

// advertisedVersions asks the broker for its ApiVersions table, as every client
// does first.
func advertisedVersions(t *testing.T, b *brokertest.Broker) map[int16][2]int16 {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	resp, err := req.RequestWith(testContext(t), b.Client())
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}

// knownGap marks a check that fails because of a gap found by these tests and
// reported, not yet fixed. While the gap reproduces, the test is skipped with its cause
// (or fails, with NAGARE_INTEROP_STRICT=1); once it stops reproducing the test fails,
// so the entry is deleted and the check becomes strict again.
type knownGap struct {
	id    string // names the gap in test output and the report
	cause string // which API, version and field, and why the client minds
}

// expectGap settles a check covered by gap: ok is whether the check passed.
func expectGap(t *testing.T, gap *knownGap, ok bool, detail string) {
	t.Helper()
	switch {
	case gap == nil && !ok:
		t.Fatal(detail)
	case gap != nil && ok:
		t.Fatalf("known gap %s no longer reproduces: delete it from the test's known gaps so the check is strict (%s)", gap.id, gap.cause)
	case gap != nil && os.Getenv("NAGARE_INTEROP_STRICT") != "":
		t.Fatalf("%s\nknown gap %s: %s", detail, gap.id, gap.cause)
	case gap != nil:
		t.Skipf("known gap %s: %s\n(%s)", gap.id, gap.cause, detail)
	}
}
