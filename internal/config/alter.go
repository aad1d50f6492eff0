package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// AlterOpType is an IncrementalAlterConfigs operation, numbered as Kafka's AlterConfigOp
// OpType so the api layer copies it from the wire.
type AlterOpType int8

// Incremental alter operations, with Kafka's ids.
const (
	AlterSet      AlterOpType = 0 // set the value
	AlterDelete   AlterOpType = 1 // remove the override, reverting to the next synonym
	AlterAppend   AlterOpType = 2 // add elements to a LIST config, skipping ones present
	AlterSubtract AlterOpType = 3 // remove elements from a LIST config
)

// AlterOp is one config change of an IncrementalAlterConfigs resource.
type AlterOp struct {
	Name  string
	Op    AlterOpType
	Value string // ignored by AlterDelete; comma-separated elements for Append/Subtract
}

// ApplyIncremental returns current with ops applied, leaving current untouched, with
// Kafka's semantics (its controller's ConfigurationControlManager): APPEND and SUBTRACT
// start from the current value or, if unset, the config's default, and are allowed only on
// LIST configs; a name may appear in one op only.
//
// It does not validate the resulting values or names for the resource: pass the result to
// ValidateTopic or Broker.ValidateDynamic / SetDynamic, which know the resource's kind.
func ApplyIncremental(current map[string]string, ops []AlterOp) (map[string]string, error) {
	out := maps.Clone(current)
	if out == nil {
		out = make(map[string]string)
	}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Name] {
			return nil, &ConfigError{Name: op.Name, Reason: "appears in more than one operation", Err: ErrInvalidOp}
		}
		seen[op.Name] = true
		switch op.Op {
		case AlterSet:
			out[op.Name] = op.Value
		case AlterDelete:
			delete(out, op.Name)
		case AlterAppend, AlterSubtract:
			d := lookupAny(op.Name)
			if d == nil || d.Type != TypeList {
				return nil, &ConfigError{Name: op.Name, Err: ErrNotList,
					Reason: fmt.Sprintf("cannot %s because its type is not LIST", opName(op.Op))}
			}
			old, ok := out[op.Name]
			if !ok && !d.NoDefault {
				old = d.Default
			}
			elems := splitList(strings.TrimSpace(old))
			for _, e := range splitList(strings.TrimSpace(op.Value)) {
				i := slices.Index(elems, e)
				switch {
				case e == "":
				case op.Op == AlterAppend && i < 0:
					elems = append(elems, e)
				case op.Op == AlterSubtract && i >= 0:
					elems = slices.Delete(elems, i, i+1)
				}
			}
			out[op.Name] = strings.Join(elems, ",")
		default:
			return nil, &ConfigError{Name: op.Name, Reason: fmt.Sprintf("unknown operation %d", op.Op), Err: ErrInvalidOp}
		}
	}
	return out, nil
}

func opName(op AlterOpType) string {
	if op == AlterAppend {
		return "APPEND"
	}
	return "SUBTRACT"
}
