package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrInvalid is the error of a binding or filter Kafka would reject with INVALID_REQUEST.
var ErrInvalid = errors.New("acl: invalid")

// Binding is one ACL: a resource pattern and an access control entry, Kafka's AclBinding.
// It is comparable, so a set of bindings is a map.
type Binding struct {
	ResourceType ResourceType `json:"resourceType"`
	ResourceName string       `json:"resourceName"`
	PatternType  PatternType  `json:"patternType"`
	// Principal is "Type:name", "User:*" for every user.
	Principal string `json:"principal"`
	// Host is an IP address, or "*" for every host; checks compare it in NormalizeHost's
	// form, so any spelling of an IPv6 address matches.
	Host       string     `json:"host"`
	Operation  Operation  `json:"operation"`
	Permission Permission `json:"permission"`
}

// String prints the binding as Kafka's tools do.
func (b Binding) String() string {
	return fmt.Sprintf("(pattern=ResourcePattern(resourceType=%v, name=%s, patternType=%v), entry=(principal=%s, host=%s, operation=%v, permissionType=%v))",
		b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission)
}

// Validate applies the checks Kafka makes before it stores an ACL (AclControlManager's
// validateNewAcl and AclApis): concrete resource type, pattern type, operation and
// permission, a non-empty name, kafka-cluster as the only CLUSTER name, and a principal
// of the form Type:name.
func (b Binding) Validate() error {
	switch {
	case !known(resourceNames, b.ResourceType) || b.ResourceType == ResourceAny:
		return fmt.Errorf("%w: resource type %v", ErrInvalid, b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return fmt.Errorf("%w: pattern type %v", ErrInvalid, b.PatternType)
	case !known(operationNames, b.Operation) || b.Operation == OpAny:
		return fmt.Errorf("%w: operation %v", ErrInvalid, b.Operation)
	case b.Permission != PermissionAllow && b.Permission != PermissionDeny:
		return fmt.Errorf("%w: permission type %v", ErrInvalid, b.Permission)
	case b.ResourceName == "":
		return fmt.Errorf("%w: empty resource name", ErrInvalid)
	case b.ResourceType == ResourceCluster && b.ResourceName != ClusterName:
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is %s", ErrInvalid, ClusterName)
	}
	if typ, name, ok := strings.Cut(b.Principal, ":"); !ok || typ == "" || name == "" {
		return fmt.Errorf("%w: principal %q is not of the form Type:name", ErrInvalid, b.Principal)
	}
	return nil
}

// NormalizeHost returns the one spelling of an ACL host that checks compare: an IP
// address as net/netip prints it (IPv6 compressed, "0:0:0:0:0:0:0:1" as Java prints it
// becoming "::1"; an IPv4-mapped IPv6 address as IPv4, which is how both Go and Java
// report such a client), without an IPv6 zone, since a zone names an interface of one
// machine and the two sides do not agree on its spelling. "*" and anything that is not
// an IP address (Kafka accepts any string; it never matches a client) stay as they are.
func NormalizeHost(host string) string {
	if host == Wildcard {
		return host
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return host
	}
	return addr.Unmap().WithZone("").String()
}

// Filter selects bindings, Kafka's AclBindingFilter: nil strings and the Any values
// match everything.
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate rejects a filter with a field Kafka would read as UNKNOWN (its validateFilter).
func (f Filter) Validate() error {
	switch {
	case !known(resourceNames, f.ResourceType):
		return fmt.Errorf("%w: filter resource type %v", ErrInvalid, f.ResourceType)
	case !known(patternNames, f.PatternType):
		return fmt.Errorf("%w: filter pattern type %v", ErrInvalid, f.PatternType)
	case !known(operationNames, f.Operation):
		return fmt.Errorf("%w: filter operation %v", ErrInvalid, f.Operation)
	case !known(permissionNames, f.Permission):
		return fmt.Errorf("%w: filter permission type %v", ErrInvalid, f.Permission)
	}
	return nil
}

// Matches reports whether b passes the filter (ResourcePatternFilter.matches and
// AccessControlEntryFilter.matches). With PatternMatch and a name, a binding matches when
// it would apply to a resource of that name: the same literal name, the literal "*", or a
// prefix of it.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		switch {
		case f.PatternType == PatternAny || f.PatternType == b.PatternType:
			if name != b.ResourceName {
				return false
			}
		case b.PatternType == PatternLiteral:
			if name != b.ResourceName && b.ResourceName != Wildcard {
				return false
			}
		case b.PatternType == PatternPrefixed:
			if !strings.HasPrefix(name, b.ResourceName) {
				return false
			}
		default:
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host && NormalizeHost(*f.Host) != NormalizeHost(b.Host) {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == b.Permission
}
