package config

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		typ     Type
		raw     string
		want    string // canonical text; "" with bad set means an error
		bad     bool
		wantNum int64
	}{
		{TypeBoolean, " TRUE ", "true", false, 1},
		{TypeBoolean, "False", "false", false, 0},
		{TypeBoolean, "yes", "", true, 0},
		{TypeInt, " 42", "42", false, 42},
		{TypeInt, "+7", "7", false, 7},
		{TypeInt, "2147483648", "", true, 0},
		{TypeInt, "1.5", "", true, 0},
		{TypeShort, "32768", "", true, 0},
		{TypeShort, "-3", "-3", false, -3},
		{TypeLong, "9223372036854775807", "9223372036854775807", false, math.MaxInt64},
		{TypeLong, "", "", true, 0},
		{TypeList, " compact , delete ", "compact,delete", false, 0},
		{TypeList, "", "", false, 0},
		{TypeString, "  x y  ", "x y", false, 0},
		{TypeDouble, "NaN", "", true, 0},
		{TypeDouble, "abc", "", true, 0},
	}
	for _, tt := range tests {
		v, reason := parseValue(tt.typ, tt.raw)
		if (reason != "") != tt.bad {
			t.Errorf("%s %q: reason %q, want error %v", tt.typ, tt.raw, reason, tt.bad)
			continue
		}
		if !tt.bad && (v.text != tt.want || v.num != tt.wantNum) {
			t.Errorf("%s %q = %q/%d, want %q/%d", tt.typ, tt.raw, v.text, v.num, tt.want, tt.wantNum)
		}
	}
}

func TestFormatJavaDouble(t *testing.T) {
	tests := map[float64]string{
		0.5:             "0.5",
		1:               "1.0",
		0:               "0.0",
		0.001:           "0.001",
		0.0001:          "1.0E-4",
		1e7:             "1.0E7",
		9999999:         "9999999.0",
		math.MaxFloat64: "1.7976931348623157E308",
		-2.5e10:         "-2.5E10",
		math.Inf(1):     "Infinity",
		123456.789:      "123456.789",
		1.5e-300:        "1.5E-300",
	}
	for f, want := range tests {
		if got := formatJavaDouble(f); got != want {
			t.Errorf("formatJavaDouble(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestValidators(t *testing.T) {
	tests := []struct {
		name, raw string
		wantErr   string // substring; "" means valid
	}{
		{"cleanup.policy", "compact,delete", ""},
		{"cleanup.policy", "delete", ""},
		{"cleanup.policy", "delete,compact", ""},
		{"cleanup.policy", "", "must not be empty"},
		{"cleanup.policy", "delete,delete", "repeated"},
		{"cleanup.policy", "Delete", "invalid element"},
		{"compression.type", "zstd", ""},
		{"compression.type", "brotli", "must be one of"},
		{"compression.gzip.level", "-1", ""},
		{"compression.gzip.level", "0", "[1,...,9] or -1"},
		{"retention.ms", "-1", ""},
		{"retention.ms", "-2", "at least -1"},
		{"segment.bytes", "13", "at least 14"},
		{"min.cleanable.dirty.ratio", "1.5", "[0.0,...,1.0]"},
		{"min.cleanable.dirty.ratio", "0.25", ""},
		{"message.timestamp.type", "createtime", "must be one of"},
		{"max.message.bytes", "x", "not a number of type INT"},
	}
	for _, tt := range tests {
		d, _ := Lookup(KindTopic, tt.name)
		_, err := d.parse(tt.raw)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s=%q: %v", tt.name, tt.raw, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s=%q: error %v, want one containing %q", tt.name, tt.raw, err, tt.wantErr)
		case err != nil && !errors.Is(err, ErrInvalidValue):
			t.Errorf("%s=%q: %v is not ErrInvalidValue", tt.name, tt.raw, err)
		}
	}
}

func TestSensitiveValueNotInError(t *testing.T) {
	d := &Definition{Name: "secret", Type: TypePassword, Sensitive: true,
		valid: func(value) string { return "too short" }}
	_, err := d.parse("hunter2")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must not echo a password", err)
	}
}

func TestListeners(t *testing.T) {
	ls, err := ParseListeners("plaintext://127.0.0.1:9092, SSL://[::1]:9093,INTERNAL://:9094")
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{{"PLAINTEXT", "127.0.0.1", 9092}, {"SSL", "::1", 9093}, {"INTERNAL", "", 9094}}
	if len(ls) != len(want) {
		t.Fatalf("got %v, want %v", ls, want)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("listener %d = %+v, want %+v", i, ls[i], want[i])
		}
	}
	if got := ls[1].String(); got != "SSL://[::1]:9093" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"127.0.0.1:9092", "PLAINTEXT://host", "A://h:1,a://h:2", "X://h:70000", "://h:1"} {
		if _, err := ParseListeners(bad); err == nil {
			t.Errorf("ParseListeners(%q) succeeded", bad)
		}
	}
	m, err := ParseProtocolMap("internal:ssl, EXTERNAL:SASL_SSL")
	if err != nil || m["INTERNAL"] != ProtocolSSL || m["EXTERNAL"] != ProtocolSASLSSL {
		t.Errorf("ParseProtocolMap = %v, %v", m, err)
	}
	for _, bad := range []string{"A", "A:TLS", "A:SSL,a:SSL", ":SSL"} {
		if _, err := ParseProtocolMap(bad); err == nil {
			t.Errorf("ParseProtocolMap(%q) succeeded", bad)
		}
	}
}
