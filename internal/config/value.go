package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Type is a config's data type, numbered as Kafka's DescribeConfigs ConfigType (v3+) so the
// api layer copies it onto the wire unchanged.
type Type int8

// Config types, with Kafka's ids.
const (
	TypeUnknown  Type = 0
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3 // 32-bit
	TypeShort    Type = 4 // 16-bit
	TypeLong     Type = 5 // 64-bit
	TypeDouble   Type = 6
	TypeList     Type = 7 // comma-separated
	TypeClass    Type = 8
	TypePassword Type = 9 // a string that is never echoed back
)

// String is the type's name as Kafka's docs print it.
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// Source says where a config's value came from, numbered as Kafka's ConfigSource so the api
// layer copies it onto the wire unchanged. Lower numbers take precedence.
type Source int8

// Config sources, with Kafka's ids.
const (
	SourceUnknown              Source = 0
	SourceDynamicTopic         Source = 1 // a topic override (CreateTopics, AlterConfigs)
	SourceDynamicBroker        Source = 2 // set at run time for this broker
	SourceDynamicDefaultBroker Source = 3 // set at run time for every broker (cluster default)
	SourceStaticBroker         Source = 4 // the properties file or --set flags
	SourceDefault              Source = 5 // the table's default
)

// String is the source's name as Kafka prints it.
func (s Source) String() string {
	switch s {
	case SourceDynamicTopic:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBroker:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBroker:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBroker:
		return "STATIC_BROKER_CONFIG"
	case SourceDefault:
		return "DEFAULT_CONFIG"
	}
	return "UNKNOWN"
}

// Sentinel errors; a *ConfigError wraps one of them so the api layer can choose the Kafka
// error code with errors.Is while the message still names the key.
var (
	// ErrUnknownName: no config of that name exists for the resource (INVALID_CONFIG).
	ErrUnknownName = errors.New("config: unknown config name")
	// ErrInvalidValue: the value does not parse as the config's type or is out of range.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrReadOnly: the broker config cannot change at run time, or not at that scope.
	ErrReadOnly = errors.New("config: cannot be updated dynamically")
	// ErrNotList: APPEND or SUBTRACT on a config whose type is not LIST.
	ErrNotList = errors.New("config: not a LIST config")
	// ErrInvalidOp: an incremental alter operation Kafka does not define, or a name given twice.
	ErrInvalidOp = errors.New("config: invalid alter operation")
)

// ConfigError names the config that was rejected and why. Value is empty for sensitive
// configs so a password never reaches a log line or an error response.
type ConfigError struct {
	Name   string
	Value  string
	Reason string
	Err    error // one of the sentinel errors above
}

// Error reads like Kafka's ConfigException message, prefixed with the package.
func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Name, e.Reason)
	}
	return fmt.Sprintf("config: invalid value %q for %s: %s", e.Value, e.Name, e.Reason)
}

// Unwrap returns the sentinel so errors.Is works.
func (e *ConfigError) Unwrap() error { return e.Err }

// value is a parsed config value. text is canonical: what Kafka's DescribeConfigs prints
// for it (trimmed, lists joined by "," without spaces, numbers in Java's format).
type value struct {
	text string
	num  int64    // BOOLEAN (0 or 1), SHORT, INT, LONG
	f    float64  // DOUBLE
	list []string // LIST
}

// validator returns why v is out of range, or "" when it is fine. It runs after parsing, so
// it may rely on the typed field that matches the config's type.
type validator func(v value) string

// parseValue parses raw as Kafka's ConfigDef.parseType does: surrounding whitespace is
// trimmed for every type; booleans ignore case; lists split on commas with whitespace.
func parseValue(t Type, raw string) (value, string) {
	s := strings.TrimSpace(raw)
	switch t {
	case TypeBoolean:
		switch {
		case strings.EqualFold(s, "true"):
			return value{text: "true", num: 1}, ""
		case strings.EqualFold(s, "false"):
			return value{text: "false"}, ""
		}
		return value{}, "expected value to be either true or false"
	case TypeShort, TypeInt, TypeLong:
		bits := 64
		switch t {
		case TypeShort:
			bits = 16
		case TypeInt:
			bits = 32
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return value{}, "not a number of type " + t.String()
		}
		return value{text: strconv.FormatInt(n, 10), num: n}, ""
	case TypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) {
			return value{}, "not a number of type DOUBLE"
		}
		return value{text: formatJavaDouble(f), f: f}, ""
	case TypeList:
		list := splitList(s)
		return value{text: strings.Join(list, ","), list: list}, ""
	case TypeString, TypePassword, TypeClass:
		return value{text: s}, ""
	}
	return value{}, "unknown type"
}

// splitList splits a trimmed LIST value the way Kafka does: empty means an empty list, and
// elements are separated by commas with optional whitespace around them.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// formatJavaDouble prints f as Java's Double.toString does, so DescribeConfigs shows the
// same text as Kafka (0.5, 1.0, 1.7976931348623157E308).
func formatJavaDouble(f float64) string {
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // 1.7976931348623157E+308
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(exp, "+-")
	exp = strings.TrimLeft(exp, "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

// atLeast is Kafka's Range.atLeast for integer types.
func atLeast(lo int64) validator {
	return func(v value) string {
		if v.num < lo {
			return fmt.Sprintf("value must be at least %d", lo)
		}
		return ""
	}
}

// between is Kafka's Range.between for integer types, both ends included.
func between(lo, hi int64) validator {
	return func(v value) string {
		if v.num < lo || v.num > hi {
			return fmt.Sprintf("value must be in [%d,...,%d]", lo, hi)
		}
		return ""
	}
}

// betweenDouble is Kafka's Range.between for DOUBLE configs, both ends included.
func betweenDouble(lo, hi float64) validator {
	return func(v value) string {
		if v.f < lo || v.f > hi {
			return fmt.Sprintf("value must be in [%s,...,%s]", formatJavaDouble(lo), formatJavaDouble(hi))
		}
		return ""
	}
}

// oneOf is Kafka's ValidString.in: exact, case-sensitive match.
func oneOf(allowed ...string) validator {
	return func(v value) string {
		if slices.Contains(allowed, v.text) {
			return ""
		}
		return "string must be one of: " + strings.Join(allowed, ", ")
	}
}

// listOf is Kafka's ValidList.in, and also rejects an empty list and repeated elements,
// which Kafka accepts but which mean nothing useful.
func listOf(allowed ...string) validator {
	return func(v value) string {
		if len(v.list) == 0 {
			return "list must not be empty; valid elements: " + strings.Join(allowed, ", ")
		}
		for i, e := range v.list {
			if !slices.Contains(allowed, e) {
				return fmt.Sprintf("invalid element %q; valid elements: %s", e, strings.Join(allowed, ", "))
			}
			if slices.Contains(v.list[:i], e) {
				return fmt.Sprintf("element %q is repeated", e)
			}
		}
		return ""
	}
}

// subsetOf accepts any list (even empty) whose elements come from allowed, each once.
func subsetOf(allowed ...string) validator {
	return func(v value) string {
		for i, e := range v.list {
			if !slices.Contains(allowed, e) {
				return fmt.Sprintf("unsupported element %q; supported: %s", e, strings.Join(allowed, ", "))
			}
			if slices.Contains(v.list[:i], e) {
				return fmt.Sprintf("element %q is repeated", e)
			}
		}
		return ""
	}
}

// nonEmptyList accepts a list with at least one element, no empty and no repeated elements:
// Kafka's ValidList.anyNonDuplicateValues(false, false).
func nonEmptyList(v value) string {
	if len(v.list) == 0 {
		return "list must not be empty"
	}
	for i, e := range v.list {
		if e == "" {
			return "list must not contain empty elements"
		}
		if slices.Contains(v.list[:i], e) {
			return fmt.Sprintf("element %q is repeated", e)
		}
	}
	return ""
}

// gzipLevel is Kafka's GZIP level validator: [1,...,9] or -1 (the library default).
func gzipLevel(v value) string {
	if v.num == -1 || (v.num >= 1 && v.num <= 9) {
		return ""
	}
	return "value must be in [1,...,9] or -1"
}

// principals checks super.users: principals of the form Type:name separated by ';'.
func principals(v value) string {
	for p := range strings.SplitSeq(v.text, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		typ, name, ok := strings.Cut(p, ":")
		if !ok || typ == "" || name == "" {
			return fmt.Sprintf("principal %q is not of the form Type:name (e.g. User:admin)", p)
		}
	}
	return ""
}

// listenerList checks listeners: NAME://host:port entries with unique names.
func listenerList(v value) string {
	if _, err := ParseListeners(v.text); err != nil {
		return err.Error()
	}
	return ""
}

// advertisedListenerList checks advertised.listeners: like listeners, but a client cannot
// connect to the 0.0.0.0 meta-address, so Kafka rejects it here.
func advertisedListenerList(v value) string {
	ls, err := ParseListeners(v.text)
	if err != nil {
		return err.Error()
	}
	for _, l := range ls {
		if l.Host == "0.0.0.0" || l.Host == "::" {
			return fmt.Sprintf("listener %s: advertising the meta-address %s is not allowed", l.Name, l.Host)
		}
	}
	return ""
}

// roleList checks process.roles: broker and/or controller, or empty.
func roleList(v value) string {
	if len(v.list) == 0 {
		return ""
	}
	return listOf("broker", "controller")(v)
}

// voterList checks controller.quorum.voters.
func voterList(v value) string {
	if _, err := ParseVoters(v.text); err != nil {
		return err.Error()
	}
	return ""
}

// nameList checks a comma-separated list of listener names.
func nameList(v value) string {
	for _, n := range splitList(v.text) {
		if n == "" {
			return "listener names must not be empty"
		}
	}
	return ""
}

// RackAwareReplicaSelector is the one replica.selector.class Nagare implements (KIP-392):
// Kafka's class name, so a Kafka operator's properties carry over.
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// replicaSelector checks replica.selector.class: a Java class cannot be loaded here, so
// only Kafka's rack-aware selector (or none) is accepted.
func replicaSelector(v value) string {
	switch strings.TrimSpace(v.text) {
	case "", RackAwareReplicaSelector:
		return ""
	}
	return "only " + RackAwareReplicaSelector + " is supported"
}

// protocolMap checks listener.security.protocol.map.
func protocolMap(v value) string {
	if _, err := ParseProtocolMap(v.text); err != nil {
		return err.Error()
	}
	return ""
}
