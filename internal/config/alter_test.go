package config

import (
	"errors"
	"maps"
	"testing"
)

func TestApplyIncremental(t *testing.T) {
	tests := []struct {
		name    string
		current map[string]string
		ops     []AlterOp
		want    map[string]string
		is      error
	}{
		{"set", map[string]string{"a": "1"}, []AlterOp{{Name: "retention.ms", Op: AlterSet, Value: "5"}},
			map[string]string{"a": "1", "retention.ms": "5"}, nil},
		{"set replaces", map[string]string{"retention.ms": "1"}, []AlterOp{{Name: "retention.ms", Op: AlterSet, Value: "2"}},
			map[string]string{"retention.ms": "2"}, nil},
		{"delete", map[string]string{"retention.ms": "1", "b": "2"}, []AlterOp{{Name: "retention.ms", Op: AlterDelete}},
			map[string]string{"b": "2"}, nil},
		{"delete absent", nil, []AlterOp{{Name: "retention.ms", Op: AlterDelete}}, map[string]string{}, nil},
		{"append to default", nil, []AlterOp{{Name: "cleanup.policy", Op: AlterAppend, Value: "compact"}},
			map[string]string{"cleanup.policy": "delete,compact"}, nil},
		{"append skips present", map[string]string{"cleanup.policy": "compact"},
			[]AlterOp{{Name: "cleanup.policy", Op: AlterAppend, Value: "compact,delete"}},
			map[string]string{"cleanup.policy": "compact,delete"}, nil},
		{"append to null default", nil, []AlterOp{{Name: "log.dirs", Op: AlterAppend, Value: "/a, /b"}},
			map[string]string{"log.dirs": "/a,/b"}, nil},
		{"subtract", map[string]string{"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"},
			[]AlterOp{{Name: "sasl.enabled.mechanisms", Op: AlterSubtract, Value: "PLAIN,GSSAPI"}},
			map[string]string{"sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512"}, nil},
		{"subtract from default to empty", nil, []AlterOp{{Name: "cleanup.policy", Op: AlterSubtract, Value: "delete"}},
			map[string]string{"cleanup.policy": ""}, nil},
		{"several ops", map[string]string{"retention.ms": "1"}, []AlterOp{
			{Name: "retention.ms", Op: AlterDelete},
			{Name: "segment.ms", Op: AlterSet, Value: "10"},
			{Name: "cleanup.policy", Op: AlterAppend, Value: "compact"},
		}, map[string]string{"segment.ms": "10", "cleanup.policy": "delete,compact"}, nil},
		{"append to non-list", nil, []AlterOp{{Name: "retention.ms", Op: AlterAppend, Value: "1"}}, nil, ErrNotList},
		{"subtract unknown", nil, []AlterOp{{Name: "nope", Op: AlterSubtract, Value: "1"}}, nil, ErrNotList},
		{"duplicate name", nil, []AlterOp{{Name: "retention.ms", Op: AlterSet, Value: "1"}, {Name: "retention.ms", Op: AlterDelete}}, nil, ErrInvalidOp},
		{"unknown op", nil, []AlterOp{{Name: "retention.ms", Op: 9}}, nil, ErrInvalidOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.current)
			got, err := ApplyIncremental(tt.current, tt.ops)
			if !maps.Equal(tt.current, before) {
				t.Errorf("input mutated: %v", tt.current)
			}
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("error %v, want %v", err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAlterThenValidate is the api layer's flow: apply, then validate for the resource.
func TestAlterThenValidate(t *testing.T) {
	got, err := ApplyIncremental(map[string]string{"cleanup.policy": "compact"},
		[]AlterOp{{Name: "cleanup.policy", Op: AlterSubtract, Value: "compact"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateTopic(got); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("an emptied cleanup.policy must not validate: %v", err)
	}

	b := mustBroker(t, nil)
	next, err := ApplyIncremental(b.Dynamic(ScopeBroker), []AlterOp{{Name: "sasl.enabled.mechanisms", Op: AlterAppend, Value: "PLAIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetDynamic(ScopeBroker, next); err != nil {
		t.Fatal(err)
	}
	if got := b.String("sasl.enabled.mechanisms"); got != "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN" {
		t.Errorf("sasl.enabled.mechanisms = %q", got)
	}
}
