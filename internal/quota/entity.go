package quota

import "fmt"

// Type is a kind of client quota, named as Kafka's quota config keys.
type Type int

const (
	// RequestPercentage bounds broker time, in percent of one thread (100 = one core).
	RequestPercentage Type = iota
	// ProducerByteRate bounds produce request bytes per second.
	ProducerByteRate
	// ConsumerByteRate bounds fetch response bytes per second.
	ConsumerByteRate
	// ControllerMutationRate bounds partitions created or deleted per second (KIP-599),
	// measured by a token bucket so that a burst within the quota's window is allowed.
	ControllerMutationRate
	numTypes
)

// Types lists every quota type, in Type order.
var Types = [numTypes]Type{RequestPercentage, ProducerByteRate, ConsumerByteRate, ControllerMutationRate}

var typeNames = [numTypes]string{"request_percentage", "producer_byte_rate", "consumer_byte_rate", "controller_mutation_rate"}

// String is Kafka's config key for the type.
func (t Type) String() string {
	if t >= 0 && t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("quota.Type(%d)", int(t))
}

// ParseType returns the type named by a Kafka quota config key.
func ParseType(key string) (Type, bool) {
	for i, n := range typeNames {
		if n == key {
			return Type(i), true
		}
	}
	return 0, false
}

// Part is one component of an entity: absent, a name, or <default>.
type Part struct {
	Set     bool   // the entity has this component
	Default bool   // <default>; Name is ""
	Name    string // the user or client-id when neither Default nor unset
}

// Named returns the part for one user or client-id.
func Named(name string) Part { return Part{Set: true, Name: name} }

// DefaultPart returns the <default> part.
func DefaultPart() Part { return Part{Set: true, Default: true} }

// String shows the part as Kafka's tools do.
func (p Part) String() string {
	switch {
	case !p.Set:
		return ""
	case p.Default:
		return "<default>"
	}
	return p.Name
}

// Entity is what a quota is set on: a user, a client-id, or both, each a name or
// <default>. At least one part is set.
type Entity struct {
	User     Part
	ClientID Part
}

// String shows the entity in Kafka's path form, such as users/alice/clients/<default>.
func (e Entity) String() string {
	switch {
	case e.User.Set && e.ClientID.Set:
		return "users/" + e.User.String() + "/clients/" + e.ClientID.String()
	case e.User.Set:
		return "users/" + e.User.String()
	case e.ClientID.Set:
		return "clients/" + e.ClientID.String()
	}
	return "<none>"
}

// Valid says whether the entity names at least one part.
func (e Entity) Valid() bool { return e.User.Set || e.ClientID.Set }

// precedence returns the eight entities a request from (user, clientID) may match, most
// specific first, with the usage key each shares (see doc.go).
func precedence(user, clientID string) [8]level {
	u, c, d := Named(user), Named(clientID), DefaultPart()
	none := Part{}
	return [8]level{
		{Entity{u, c}, Key{user, clientID}},
		{Entity{u, d}, Key{user, clientID}},
		{Entity{u, none}, Key{User: user}},
		{Entity{d, c}, Key{user, clientID}},
		{Entity{d, d}, Key{user, clientID}},
		{Entity{d, none}, Key{User: user}},
		{Entity{none, c}, Key{ClientID: clientID}},
		{Entity{none, d}, Key{ClientID: clientID}},
	}
}

type level struct {
	entity Entity
	key    Key
}

// Key identifies whose usage a quota measures: Kafka's metric tags (user, client-id),
// either empty when the quota that applies does not distinguish it.
type Key struct {
	User     string
	ClientID string
}
