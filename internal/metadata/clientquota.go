package metadata

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
)

// Quota entity types, Kafka's names.
const (
	QuotaEntityUser     = "user"
	QuotaEntityClientID = "client-id"
	// QuotaEntityIP is KIP-612's entity for connection_creation_rate: an address, never
	// combined with a user or client-id.
	QuotaEntityIP = "ip"
)

// ClientQuota sets or removes one client quota, as Kafka's ClientQuotaRecord: Key (such
// as producer_byte_rate) on Entity. Which keys exist and their bounds are the proposer's
// checks (AlterClientQuotas); apply keeps the entity well formed.
type ClientQuota struct {
	Entity []QuotaEntityPart `json:"entity"`
	Key    string            `json:"key"`
	Value  float64           `json:"value"`
	Remove bool              `json:"remove"`
}

// QuotaEntityPart is one component of a quota entity; a nil Name is <default>.
type QuotaEntityPart struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// QuotaEntity is a quota entity as a comparable value: each of user, client-id and ip
// absent, <default>, or a name; ip stands alone.
type QuotaEntity struct {
	HasUser, UserDefault         bool
	User                         string
	HasClientID, ClientIDDefault bool
	ClientID                     string
	HasIP, IPDefault             bool
	IP                           string
}

// Parts returns the entity in record form, user first.
func (e QuotaEntity) Parts() []QuotaEntityPart {
	var parts []QuotaEntityPart
	add := func(has, def bool, typ, name string) {
		if !has {
			return
		}
		p := QuotaEntityPart{Type: typ}
		if !def {
			p.Name = &name
		}
		parts = append(parts, p)
	}
	add(e.HasUser, e.UserDefault, QuotaEntityUser, e.User)
	add(e.HasClientID, e.ClientIDDefault, QuotaEntityClientID, e.ClientID)
	add(e.HasIP, e.IPDefault, QuotaEntityIP, e.IP)
	return parts
}

// QuotaEntityOf checks record-form parts and returns the entity they name.
func QuotaEntityOf(parts []QuotaEntityPart) (QuotaEntity, error) {
	var e QuotaEntity
	if len(parts) == 0 {
		return e, fmt.Errorf("%w: client quota entity has no parts", ErrInvalidRecord)
	}
	for _, p := range parts {
		name, def := "", p.Name == nil
		if !def {
			name = *p.Name
		}
		switch p.Type {
		case QuotaEntityUser:
			if e.HasUser {
				return e, fmt.Errorf("%w: client quota entity names user twice", ErrInvalidRecord)
			}
			e.HasUser, e.UserDefault, e.User = true, def, name
		case QuotaEntityClientID:
			if e.HasClientID {
				return e, fmt.Errorf("%w: client quota entity names client-id twice", ErrInvalidRecord)
			}
			e.HasClientID, e.ClientIDDefault, e.ClientID = true, def, name
		case QuotaEntityIP:
			if e.HasIP {
				return e, fmt.Errorf("%w: client quota entity names ip twice", ErrInvalidRecord)
			}
			if !def && net.ParseIP(name) == nil {
				return e, fmt.Errorf("%w: client quota entity ip %q is not an IP address", ErrInvalidRecord, name)
			}
			e.HasIP, e.IPDefault, e.IP = true, def, name
		default:
			return e, fmt.Errorf("%w: client quota entity type %q", ErrInvalidRecord, p.Type)
		}
	}
	if e.HasIP && (e.HasUser || e.HasClientID) {
		return e, fmt.Errorf("%w: an ip quota entity cannot also name a user or client-id", ErrInvalidRecord)
	}
	return e, nil
}

// Type implements Record.
func (ClientQuota) Type() RecordType { return RecordClientQuota }

func (ClientQuota) isRecord() {}

// ClientQuotas returns every client quota: entity → key → value. The map and its values
// are shared: do not modify them.
func (img *Image) ClientQuotas() map[QuotaEntity]map[string]float64 { return img.clientQuotas }

func (img *Image) applyClientQuota(r ClientQuota, index uint64) (*Image, error) {
	e, err := QuotaEntityOf(r.Entity)
	if err != nil {
		return nil, err
	}
	if r.Key == "" {
		return nil, fmt.Errorf("%w: client quota with no key", ErrInvalidRecord)
	}
	if !r.Remove && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)) {
		return nil, fmt.Errorf("%w: client quota %s = %v", ErrInvalidRecord, r.Key, r.Value)
	}
	n := img.next(index)
	n.clientQuotas = maps.Clone(img.clientQuotas)
	if n.clientQuotas == nil {
		n.clientQuotas = map[QuotaEntity]map[string]float64{}
	}
	values := maps.Clone(n.clientQuotas[e])
	if values == nil {
		values = map[string]float64{}
	}
	if r.Remove {
		delete(values, r.Key)
	} else {
		values[r.Key] = r.Value
	}
	if len(values) == 0 {
		delete(n.clientQuotas, e)
	} else {
		n.clientQuotas[e] = values
	}
	return n, nil
}

// clientQuotaRecords returns the records that rebuild the client quotas, in a stable
// order for snapshots.
func (img *Image) clientQuotaRecords() []ClientQuota {
	var out []ClientQuota
	for e, values := range img.clientQuotas {
		for k, v := range values {
			out = append(out, ClientQuota{Entity: e.Parts(), Key: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b ClientQuota) int {
		ea, _ := QuotaEntityOf(a.Entity)
		eb, _ := QuotaEntityOf(b.Entity)
		return cmp.Or(compareEntity(ea, eb), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func compareEntity(a, b QuotaEntity) int {
	key := func(e QuotaEntity) string {
		return fmt.Sprintf("%v%v%q%v%v%q%v%v%q", e.HasUser, e.UserDefault, e.User,
			e.HasClientID, e.ClientIDDefault, e.ClientID, e.HasIP, e.IPDefault, e.IP)
	}
	return cmp.Compare(key(a), key(b))
}
