package api

import (
	"regexp"
	"testing"
)

// kafkaSoftwareName is Kafka's own pattern for client software names and versions
// (ApiVersionsRequest.isValid), the oracle validSoftwareName must agree with.
var kafkaSoftwareName = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func TestValidSoftwareNameMatchesKafka(t *testing.T) {
	for _, s := range []string{
		"", "a", "-", ".", "a-", "-a", "a.", ".a", "a-b", "a.b", "apache-kafka-java", "3.7.0",
		"franz-go", "v1.18.0", "1.0.0-SNAPSHOT", "a b", "a_b", "a/b", "é", "aé", "a\x00b", "A9",
		"9", "a--b", "a..b", "librdkafka", "2.3.0-RC1+meta",
	} {
		if got, want := validSoftwareName(s), kafkaSoftwareName.MatchString(s); got != want {
			t.Errorf("validSoftwareName(%q) = %v, Kafka's pattern says %v", s, got, want)
		}
	}
}

func FuzzValidSoftwareName(f *testing.F) {
	for _, s := range []string{"franz-go", "1.0.0", "-a", "a.", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validSoftwareName(s), kafkaSoftwareName.MatchString(s); got != want {
			t.Errorf("validSoftwareName(%q) = %v, Kafka's pattern says %v", s, got, want)
		}
	})
}

// BenchmarkValidSoftwareName compares the check with the regexp it replaced.
func BenchmarkValidSoftwareName(b *testing.B) {
	for name, valid := range map[string]func(string) bool{
		"hand":   validSoftwareName,
		"regexp": kafkaSoftwareName.MatchString,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !valid("apache-kafka-java") || !valid("3.7.0") {
					b.Fatal("rejected")
				}
			}
		})
	}
}
