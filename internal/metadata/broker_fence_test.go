package metadata

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// TestFenceBroker: fencing and unfencing change only the flag, a re-registration keeps
// it (only a heartbeat unfences), an unregistered broker cannot be fenced, and a snapshot
// keeps fenced brokers fenced.
func TestFenceBroker(t *testing.T) {
	img := mustApply(t, emptyImage,
		RegisterBroker{NodeID: 1, Host: "b1", Port: 9092},
		RegisterBroker{NodeID: 2, Host: "b2", Port: 9092},
		FenceBroker{NodeID: 2},
		FenceBroker{NodeID: 2}, // repeating it is harmless
		RegisterBroker{NodeID: 2, Host: "b2-new", Port: 9093})
	if b, _ := img.Broker(2); !b.Fenced || b.Host != "b2-new" {
		t.Fatalf("broker 2 after fence and re-registration: %+v", b)
	}
	if live := img.UnfencedBrokers(); len(live) != 1 || live[0].NodeID != 1 {
		t.Fatalf("unfenced brokers: %+v", live)
	}
	if _, err := img.apply(FenceBroker{NodeID: 7}, img.Index()+1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("fencing an unregistered broker: %v", err)
	}

	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeSnapshot(w, img); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := readSnapshot(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := got.Broker(2); !b.Fenced {
		t.Fatalf("snapshot lost the fence: %+v", b)
	}

	img = mustApply(t, img, UnfenceBroker{NodeID: 2})
	if b, _ := img.Broker(2); b.Fenced {
		t.Fatalf("broker 2 still fenced after UnfenceBroker")
	}
}
