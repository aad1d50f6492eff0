package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoMatchingRule: no ssl.principal.mapping.rules rule matched a certificate subject, which
// Kafka treats as a failed authentication.
var ErrNoMatchingRule = errors.New("auth: no ssl.principal.mapping.rules rule applies")

// PrincipalMapper turns a TLS client certificate's distinguished name (RFC 2253 form,
// "CN=alice,OU=eng,O=corp") into a user name with Kafka's ssl.principal.mapping.rules:
// a list, separated by commas or newlines, of
//
//	DEFAULT                          the distinguished name unchanged
//	RULE:pattern/replacement/        pattern must match the whole name; replacement may use $1...
//	RULE:pattern/replacement/L       ... then lower-cased
//	RULE:pattern/replacement/U       ... then upper-cased
//
// Rules are tried in order and the first that matches wins; "/" inside a pattern or
// replacement is written "\/". Patterns are Go regular expressions (RE2), which accept
// the patterns Kafka's documentation shows; Java-only constructs (back-references,
// look-around) are refused when the rules are parsed. Immutable once built.
type PrincipalMapper struct {
	rules []principalRule
	text  string
}

type principalRule struct {
	isDefault   bool
	pattern     *regexp.Regexp // anchored: Java's Matcher.matches()
	unanchored  *regexp.Regexp // for the replaceAll that follows the match
	replacement string         // in regexp.Expand's template syntax
	lower       bool
	upper       bool
}

// ruleSyntax is Kafka's SslPrincipalMapper.RULE_SPLITTER and RULE_PARSER in one.
var ruleSyntax = regexp.MustCompile(`^\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?)[^,\n]*?|([^,\n]*?))\s*(?:[,\n]\s*|$)`)

// ParsePrincipalRules parses ssl.principal.mapping.rules. An empty string means DEFAULT.
func ParsePrincipalRules(s string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{text: s}
	rest := strings.TrimSpace(s)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		g := ruleSyntax.FindStringSubmatch(rest)
		if g == nil || len(g[0]) == 0 {
			return nil, fmt.Errorf("auth: ssl.principal.mapping.rules: cannot parse %q", rest)
		}
		rest = rest[len(g[0]):]
		switch {
		case g[1] != "":
			m.rules = append(m.rules, principalRule{isDefault: true})
		case g[5] != "" || (g[2] == "" && g[3] == "" && !strings.HasPrefix(strings.TrimSpace(g[0]), "RULE:")):
			return nil, fmt.Errorf("auth: ssl.principal.mapping.rules: invalid rule %q", strings.TrimSpace(g[0]))
		default:
			r, err := newPrincipalRule(g[2], g[3], g[4])
			if err != nil {
				return nil, err
			}
			m.rules = append(m.rules, r)
		}
	}
	return m, nil
}

func newPrincipalRule(pattern, replacement, caseFlag string) (principalRule, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return principalRule{}, fmt.Errorf("auth: ssl.principal.mapping.rules: pattern %q: %w", pattern, err)
	}
	un, err := regexp.Compile(pattern)
	if err != nil {
		return principalRule{}, fmt.Errorf("auth: ssl.principal.mapping.rules: pattern %q: %w", pattern, err)
	}
	return principalRule{
		pattern:     re,
		unanchored:  un,
		replacement: javaReplacement(replacement, un.NumSubexp()),
		lower:       caseFlag == "L",
		upper:       caseFlag == "U",
	}, nil
}

// javaReplacement turns a Java replaceAll replacement ($1 group references, \x literal x)
// into regexp.Expand's template, with references past the pattern's groups kept literal
// as Kafka's escapeLiteralBackReferences does.
func javaReplacement(s string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(s[i+1 : j])
			if j == i+1 || err != nil || n > groups {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Map returns the user name for a distinguished name, or ErrNoMatchingRule.
func (m *PrincipalMapper) Map(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.pattern.MatchString(dn) {
			continue
		}
		out := r.unanchored.ReplaceAllString(dn, r.replacement)
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("%w: %q (rules %q)", ErrNoMatchingRule, dn, m.text)
}
