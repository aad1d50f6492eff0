package api

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCompatibilityDocMatchesRegistry keeps docs/COMPATIBILITY.md true: every served API
// is listed with exactly the versions ApiVersions advertises, and nothing else is.
func TestCompatibilityDocMatchesRegistry(t *testing.T) {
	doc, err := os.ReadFile("../../docs/COMPATIBILITY.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| key") {
			rows++
		}
	}
	if rows != len(registry) {
		t.Errorf("docs/COMPATIBILITY.md lists %d APIs, the registry serves %d", rows, len(registry))
	}
	for _, e := range registry {
		want := fmt.Sprintf("| %d | %s | v%d-v%d |", e.key, kmsg.NameForKey(e.key), e.min, e.max)
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/COMPATIBILITY.md lacks %q", want)
		}
		if req := kmsg.RequestForKey(e.key); req == nil || e.max > req.MaxVersion() {
			t.Errorf("api %d advertises v%d beyond what kmsg knows", e.key, e.max)
		}
	}
}
