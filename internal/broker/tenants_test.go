package broker_test

// Two tenants on one broker, as on a shared cluster: each authenticates with SCRAM and
// owns a prefix (billing., search.). Neither may read or write the other's topics, see
// them in Metadata or join the other's consumer groups; each works within its own.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/auth"
	"github.com/nagare-dev/nagare/internal/brokertest"
)

func TestTenantsAreIsolated(t *testing.T) {
	var specs []auth.ScramSpec
	for _, s := range []string{
		"SCRAM-SHA-512=[name=billing,password=billing-secret]",
		"SCRAM-SHA-512=[name=search,password=search-secret]",
		"SCRAM-SHA-512=[name=admin,password=admin-secret]",
	} {
		spec, err := auth.ParseScramSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	b := brokertest.Start(t, brokertest.WithAddScram(specs...), brokertest.WithProperties(map[string]string{
		"listeners":   "SASL_PLAINTEXT://127.0.0.1:0",
		"super.users": "User:admin",
	}))
	ctx := testContext(t)
	admin := kadm.NewClient(saslClient(t, b, "SASL_PLAINTEXT", scram512("admin", "admin-secret"), nil))
	for _, topic := range []string{"billing.invoices", "search.queries"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatalf("admin creates %s: %v", topic, err)
		}
	}
	details, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"billing", "search"} {
		acls := kadm.NewACLs().Allow("User:" + tenant).
			Topics(tenant + ".").Groups(tenant + ".").ResourcePatternType(kadm.ACLPatternPrefixed).
			Operations(kadm.OpAll)
		mustCreateACLs(t, admin, acls)
	}

	billing := saslClient(t, b, "SASL_PLAINTEXT", scram512("billing", "billing-secret"), nil)
	search := saslClient(t, b, "SASL_PLAINTEXT", scram512("search", "search-secret"), nil)
	for _, c := range []struct {
		name       string
		cl         *kgo.Client
		own, other string
	}{{"billing", billing, "billing.invoices", "search.queries"}, {"search", search, "search.queries", "billing.invoices"}} {
		if topics := metadataTopics(t, c.cl); !slices.Equal(topics, []string{c.own}) {
			t.Errorf("%s sees topics %v in Metadata, want only %s", c.name, topics, c.own)
		}
		if err := produceOne(ctx, c.cl, c.own); err != nil {
			t.Errorf("%s cannot write its own topic: %v", c.name, err)
		}
		if err := produceOne(ctx, c.cl, c.other); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("%s writing %s: %v, want TOPIC_AUTHORIZATION_FAILED", c.name, c.other, err)
		}
		if code := fetchCode(t, c.cl, c.other, details[c.other].ID); code != kerr.TopicAuthorizationFailed.Code {
			t.Errorf("%s fetching %s: code %d, want TOPIC_AUTHORIZATION_FAILED", c.name, c.other, code)
		}
		otherGroup := map[string]string{"billing": "search.workers", "search": "billing.workers"}[c.name]
		if code := joinCode(t, c.cl, otherGroup); code != kerr.GroupAuthorizationFailed.Code {
			t.Errorf("%s joining %s: code %d, want GROUP_AUTHORIZATION_FAILED", c.name, otherGroup, code)
		}
		if code := joinCode(t, c.cl, c.name+".workers"); code == kerr.GroupAuthorizationFailed.Code {
			t.Errorf("%s cannot join its own group", c.name)
		}
	}
	// A wrong password is no way in.
	intruder := saslClient(t, b, "SASL_PLAINTEXT", scram512("billing", "guess"), nil)
	shortCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := produceOne(shortCtx, intruder, "billing.invoices"); err == nil {
		t.Error("a wrong password produced to billing.invoices")
	}
}
