package config

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space", "a b", map[string]string{"a": "b"}},
		{"spaces around separator", "  a  =  b  ", map[string]string{"a": "b  "}},
		{"space then equals", "a =b", map[string]string{"a": "b"}},
		{"only one separator is skipped", "a==b", map[string]string{"a": "=b"}},
		{"space separator then colon", "a :  = b", map[string]string{"a": "= b"}},
		{"key only", "flag", map[string]string{"flag": ""}},
		{"key with separator, empty value", "a=", map[string]string{"a": ""}},
		{"comments", "# c\n! c\n  # indented\na=1", map[string]string{"a": "1"}},
		{"hash inside value", "a=x#y", map[string]string{"a": "x#y"}},
		{"blank lines", "\n\n  \t\na=1\n\n", map[string]string{"a": "1"}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"continuation", "a=one,\\\n    two,\\\n\tthree", map[string]string{"a": "one,two,three"}},
		{"continuation CRLF", "a=x\\\r\n  y", map[string]string{"a": "xy"}},
		{"even backslashes do not continue", "a=x\\\\\nb=y", map[string]string{"a": `x\`, "b": "y"}},
		{"continued line is not a comment", "a=x\\\n#y", map[string]string{"a": "x#y"}},
		{"comment does not continue", "# c \\\na=1", map[string]string{"a": "1"}},
		{"continuation into blank line ends", "a=x\\\n\nb=2", map[string]string{"a": "x", "b": "2"}},
		{"backslash at EOF", "a=x\\", map[string]string{"a": "x"}},
		{"escapes", `a=\t\n\r\f\\\=\:\ \#x`, map[string]string{"a": "\t\n\r\f\\=: #x"}},
		{"escaped separators in key", `my\ key\=a\:b = v`, map[string]string{"my key=a:b": "v"}},
		{"unicode escape", `a=caf\u00e9 \u0041`, map[string]string{"a": "café A"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"lone surrogate", `a=\uD83Dx`, map[string]string{"a": "\uFFFDx"}},
		{"utf-8 passes through", "ключ=значение", map[string]string{"ключ": "значение"}},
		{"duplicate keeps last", "a=1\na=2", map[string]string{"a": "2"}},
		{"server.properties style", strings.Join([]string{
			"# Licensed to the Apache Software Foundation",
			"node.id=1",
			"listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
			"log.dirs=/tmp/kraft-combined-logs",
			"log.retention.hours=168",
			"",
		}, "\n"), map[string]string{
			"node.id": "1", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093",
			"log.dirs": "/tmp/kraft-combined-logs", "log.retention.hours": "168",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		in   string
		line int
	}{
		{`a=\u12`, 1},
		{"a=1\nb=\\uZZZZ", 2},
		{"# c\n\na=1\nb=x,\\\n  y\\u00G0", 5},
		{"k\\u12=v", 1},
	}
	for _, tt := range tests {
		_, err := ParseProperties(strings.NewReader(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != tt.line {
			t.Errorf("%q: error %v, want a SyntaxError on line %d", tt.in, err, tt.line)
		}
	}
}

// escapeProperty writes s so ParseProperties reads it back unchanged, for the round trip.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteString(`\` + string(r))
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzParseProperties checks the parser never panics, and that any map it returns, written
// back with escapes, parses to the same map.
func FuzzParseProperties(f *testing.F) {
	for _, seed := range []string{
		"", "a=b", "a:b\nc d", "# c\n! c\na=1", "a=x\\\n  y", `a=\u00e9\uD83D\uDE00`,
		"a=\\", "\\", "\\u", "a\\=b=c", " \t\f", "a=1\r\nb=2\rc=3", "k\\\n\\\n=v",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > strings.Count(in, "\n")+strings.Count(in, "\r")+1 {
				t.Fatalf("error %v is not a SyntaxError with a line in range", err)
			}
			return
		}
		var b strings.Builder
		for k, v := range got {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return // invalid UTF-8 in the input passes through; escaping it is not the point
			}
			b.WriteString(escapeProperty(k, true) + "=" + escapeProperty(v, false) + "\n")
		}
		again, err := ParseProperties(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if !maps.Equal(got, again) {
			t.Fatalf("round trip changed %q to %q", got, again)
		}
	})
}
