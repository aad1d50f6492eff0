package acl

import (
	"fmt"
	"strings"
)

// ResourceType is what an ACL protects, by Kafka's code (org.apache.kafka.common.resource.ResourceType).
type ResourceType int8

// Resource types. Unknown and Any are only meaningful in filters (Any) or as the result of
// parsing a code this version does not know (Unknown).
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType says how an ACL's resource name matches resources.
type PatternType int8

// Pattern types. Literal and Prefixed are stored; Any and Match appear only in filters:
// Any matches bindings whose name equals the filter's, of either type; Match matches the
// bindings that would apply to a resource of that name (literal, wildcard or prefix).
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is what a principal does to a resource.
type Operation int8

// Operations, by Kafka's AclOperation codes.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is whether an entry allows or denies.
type Permission int8

// Permissions, by Kafka's AclPermissionType codes.
const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

// Wildcard is the LITERAL resource name that matches every resource of its type, and the
// host that matches every host.
const Wildcard = "*"

// ClusterName is the only name of the CLUSTER resource, as in Kafka.
const ClusterName = "kafka-cluster"

// UserPrefix is the type part of every principal Nagare authenticates.
const UserPrefix = "User:"

// WildcardPrincipal matches every user.
const WildcardPrincipal = "User:*"

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER",
}

var patternNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED",
}

var operationNames = map[Operation]string{
	OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS",
}

var permissionNames = map[Permission]string{
	PermissionUnknown: "UNKNOWN", PermissionAny: "ANY", PermissionDeny: "DENY", PermissionAllow: "ALLOW",
}

// String is Kafka's name of the resource type.
func (t ResourceType) String() string { return nameOf(resourceNames, t) }

// String is Kafka's name of the pattern type.
func (t PatternType) String() string { return nameOf(patternNames, t) }

// String is Kafka's name of the operation.
func (o Operation) String() string { return nameOf(operationNames, o) }

// String is Kafka's name of the permission.
func (p Permission) String() string { return nameOf(permissionNames, p) }

// MarshalText writes the name, so stored records read as Kafka's tools print them.
func (t ResourceType) MarshalText() ([]byte, error) { return marshalName(resourceNames, t) }

// MarshalText writes the name.
func (t PatternType) MarshalText() ([]byte, error) { return marshalName(patternNames, t) }

// MarshalText writes the name.
func (o Operation) MarshalText() ([]byte, error) { return marshalName(operationNames, o) }

// MarshalText writes the name.
func (p Permission) MarshalText() ([]byte, error) { return marshalName(permissionNames, p) }

// UnmarshalText parses a name written by MarshalText.
func (t *ResourceType) UnmarshalText(b []byte) error { return unmarshalName(resourceNames, t, b) }

// UnmarshalText parses a name written by MarshalText.
func (t *PatternType) UnmarshalText(b []byte) error { return unmarshalName(patternNames, t, b) }

// UnmarshalText parses a name written by MarshalText.
func (o *Operation) UnmarshalText(b []byte) error { return unmarshalName(operationNames, o, b) }

// UnmarshalText parses a name written by MarshalText.
func (p *Permission) UnmarshalText(b []byte) error { return unmarshalName(permissionNames, p, b) }

// ParseResourceType parses a name, case-insensitively, as Kafka's fromString does.
func ParseResourceType(s string) (ResourceType, bool) { return parseName(resourceNames, s) }

// ParsePatternType parses a name, case-insensitively.
func ParsePatternType(s string) (PatternType, bool) { return parseName(patternNames, s) }

// ParseOperation parses a name, case-insensitively; "-" and " " may stand for "_".
func ParseOperation(s string) (Operation, bool) { return parseName(operationNames, s) }

// ParsePermission parses a name, case-insensitively.
func ParsePermission(s string) (Permission, bool) { return parseName(permissionNames, s) }

func nameOf[T ~int8](names map[T]string, v T) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%d", int8(v))
}

func marshalName[T ~int8](names map[T]string, v T) ([]byte, error) {
	s, ok := names[v]
	if !ok {
		return nil, fmt.Errorf("acl: no name for code %d", int8(v))
	}
	return []byte(s), nil
}

func unmarshalName[T ~int8](names map[T]string, v *T, b []byte) error {
	for k, s := range names {
		if s == string(b) {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("acl: unknown name %q", b)
}

func parseName[T ~int8](names map[T]string, s string) (T, bool) {
	s = strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
	for k, n := range names {
		if n == s {
			return k, true
		}
	}
	return 0, false
}

// known reports whether code names a value of the type (rather than one a newer Kafka
// added), excluding Unknown.
func known[T ~int8](names map[T]string, v T) bool {
	_, ok := names[v]
	return ok && v != 0
}
