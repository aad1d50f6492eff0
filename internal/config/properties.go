package config

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is a properties file error, located by its line (1-based) so an operator can
// find it.
type SyntaxError struct {
	Line   int
	Reason string
}

// Error says the line and what is wrong with it.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("config: properties line %d: %s", e.Line, e.Reason)
}

// ParseProperties reads a Java .properties file (Kafka's server.properties) the way
// java.util.Properties.load does, for the rules that matter in practice:
//   - lines end with \n, \r or \r\n; a line whose first non-blank character is # or ! is
//     a comment, and blank lines are skipped;
//   - a line ending in an odd number of backslashes continues on the next line, whose
//     leading blanks are dropped;
//   - the key ends at the first unescaped '=', ':' or blank; blanks and one '=' or ':'
//     after it are skipped, and the rest of the line is the value (trailing blanks kept);
//   - in keys and values \t \n \r \f are control characters, \uXXXX is a UTF-16 code unit
//     (surrogate pairs combine), and a backslash before any other character is dropped;
//   - a later duplicate key replaces an earlier one.
//
// Differs from Java: the input is read as UTF-8, not ISO-8859-1, so non-ASCII text needs
// no \u escapes. The only syntax error is a malformed \uXXXX escape.
func ParseProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: reading properties: %w", err)
	}
	out := make(map[string]string)
	p := propReader{data: string(data)}
	for {
		line, ok := p.logicalLine()
		if !ok {
			return out, nil
		}
		key, val, err := splitProperty(line)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
}

// propReader hands out logical lines: natural lines joined across continuations, with the
// natural line number where each piece starts so errors can point at the right line.
type propReader struct {
	data string
	pos  int
	line int // natural lines consumed
}

// logicalLine is one key/value line; starts records, for each piece, its offset within
// text and its natural line number.
type logicalLine struct {
	text   string
	starts []lineStart
}

type lineStart struct{ offset, line int }

// lineAt returns the natural line holding byte offset i of the logical line.
func (l logicalLine) lineAt(i int) int {
	n := l.starts[0].line
	for _, s := range l.starts {
		if s.offset <= i {
			n = s.line
		}
	}
	return n
}

// naturalLine returns the next line without its terminator, and false at the end.
func (p *propReader) naturalLine() (string, bool) {
	if p.pos >= len(p.data) {
		return "", false
	}
	rest := p.data[p.pos:]
	i := strings.IndexAny(rest, "\r\n")
	p.line++
	if i < 0 {
		p.pos = len(p.data)
		return rest, true
	}
	p.pos += i + 1
	if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
		p.pos++
	}
	return rest[:i], true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftBlanks(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether s ends in an odd number of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// logicalLine returns the next non-blank, non-comment logical line.
func (p *propReader) logicalLine() (logicalLine, bool) {
	for {
		nat, ok := p.naturalLine()
		if !ok {
			return logicalLine{}, false
		}
		nat = trimLeftBlanks(nat)
		if nat == "" || nat[0] == '#' || nat[0] == '!' {
			continue // comments never continue, even when they end in a backslash
		}
		var b strings.Builder
		l := logicalLine{starts: []lineStart{{0, p.line}}}
		for continues(nat) {
			b.WriteString(nat[:len(nat)-1])
			next, ok := p.naturalLine()
			if !ok {
				nat = "" // a backslash at the end of the input is dropped
				break
			}
			nat = trimLeftBlanks(next)
			l.starts = append(l.starts, lineStart{b.Len(), p.line})
		}
		b.WriteString(nat)
		l.text = b.String()
		return l, true
	}
}

// splitProperty splits a logical line into its unescaped key and value.
func splitProperty(l logicalLine) (string, string, error) {
	s := l.text
	keyEnd, valStart, hasSep, escaped := len(s), len(s), false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escaped && (c == '=' || c == ':') {
			keyEnd, valStart, hasSep = i, i+1, true
			break
		}
		if !escaped && isBlank(c) {
			keyEnd, valStart = i, i+1
			break
		}
		escaped = c == '\\' && !escaped
	}
	for valStart < len(s) {
		c := s[valStart]
		if isBlank(c) {
			valStart++
			continue
		}
		if !hasSep && (c == '=' || c == ':') {
			hasSep = true
			valStart++
			continue
		}
		break
	}
	key, err := unescape(l, 0, keyEnd)
	if err != nil {
		return "", "", err
	}
	val, err := unescape(l, valStart, len(s))
	if err != nil {
		return "", "", err
	}
	return key, val, nil
}

// unescape decodes the escapes of l.text[from:to] (Java's loadConvert).
func unescape(l logicalLine, from, to int) (string, error) {
	s := l.text[from:to]
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	var pending rune = -1 // a high surrogate waiting for its low half
	flush := func() {
		if pending >= 0 {
			b.WriteRune(utf8.RuneError)
			pending = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash is dropped
		}
		switch c = s[i]; c {
		case 't':
			c = '\t'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 'f':
			c = '\f'
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return "", &SyntaxError{Line: l.lineAt(from + i), Reason: `malformed \uXXXX encoding`}
			}
			i += 4
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00:
				flush()
				pending = r
			case utf16.IsSurrogate(r) && pending >= 0:
				b.WriteRune(utf16.DecodeRune(pending, r))
				pending = -1
			default:
				flush()
				b.WriteRune(r) // a lone low surrogate becomes U+FFFD
			}
			continue
		}
		flush()
		b.WriteByte(c)
	}
	flush()
	return b.String(), nil
}

// hex4 decodes the four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
