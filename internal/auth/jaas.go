package auth

import (
	"fmt"
	"strings"
)

// JAASEntry is one login module entry of a JAAS configuration, as Kafka reads
// sasl.jaas.config:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret"
//	    user_admin="admin-secret" user_alice="alice-secret";
type JAASEntry struct {
	LoginModule string            // the class name
	Flag        string            // required, requisite, sufficient or optional
	Options     map[string]string // key=value options, quotes removed
}

// ParseJAAS parses the value of a sasl.jaas.config property: one or more entries, each
// ended by ';'. Option values are either double-quoted (with \" and \\ escapes) or a bare
// token; this is the subset of JAAS syntax Kafka's own configs use.
func ParseJAAS(s string) ([]JAASEntry, error) {
	p := jaasParser{s: s}
	var out []JAASEntry
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			break
		}
		e, err := p.entry()
		if err != nil {
			return nil, fmt.Errorf("auth: sasl.jaas.config: %w", err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("auth: sasl.jaas.config: no login module")
	}
	return out, nil
}

// PlainUsers returns the PLAIN users of JAAS entries: every user_<name>="password" option,
// as Kafka's PlainServerCallbackHandler reads them.
func PlainUsers(entries []JAASEntry) map[string]string {
	users := map[string]string{}
	for _, e := range entries {
		for k, v := range e.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
				users[name] = v
			}
		}
	}
	return users
}

type jaasParser struct {
	s string
	i int
}

func (p *jaasParser) skipSpace() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

// word reads a bare token: everything up to space, '=' or ';'.
func (p *jaasParser) word() string {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" \t\r\n=;\"", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *jaasParser) entry() (JAASEntry, error) {
	e := JAASEntry{Options: map[string]string{}}
	if e.LoginModule = p.word(); e.LoginModule == "" {
		return e, fmt.Errorf("expected a login module class at offset %d", p.i)
	}
	p.skipSpace()
	e.Flag = strings.ToLower(p.word())
	switch e.Flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return e, fmt.Errorf("login module %s: flag %q is not required, requisite, sufficient or optional", e.LoginModule, e.Flag)
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return e, fmt.Errorf("login module %s: missing ';' at the end", e.LoginModule)
		}
		if p.s[p.i] == ';' {
			p.i++
			return e, nil
		}
		key := p.word()
		p.skipSpace()
		if key == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
			return e, fmt.Errorf("login module %s: expected key=value at offset %d", e.LoginModule, p.i)
		}
		p.i++
		p.skipSpace()
		value, err := p.value()
		if err != nil {
			return e, fmt.Errorf("login module %s option %s: %w", e.LoginModule, key, err)
		}
		e.Options[key] = value
	}
}

func (p *jaasParser) value() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		v := p.word()
		if v == "" {
			return "", fmt.Errorf("empty value")
		}
		return v, nil
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\' && p.i < len(p.s):
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted value")
}
