package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/printer"
)

// How camera.yml's text is read, beyond what the YAML decoder does: the file is often edited
// by hand on a PC (Windows line ends, a byte-order mark), and YAML's implicit typing would
// quietly change what a user typed (a password of 01234567 is an octal number to it).

// plainText drops a UTF-8 byte-order mark and turns CRLF line ends into LF, so that a file
// saved by Notepad parses, and errors point at the right line.
func plainText(data []byte) []byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
}

// keepLiteralText sets every text field whose value YAML read as a number or a boolean to the
// value as written: "password: 01234567" is the password 01234567, not 342391 (octal), and
// "psk: 00001111" keeps its eight characters. The decoder has already accepted the file.
// dst is a pointer to the struct the file was decoded into (a Config, or part of one).
func keepLiteralText(data []byte, dst any) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return
	}
	for _, doc := range file.Docs {
		if m, ok := doc.Body.(*ast.MappingNode); ok {
			literalTextInto(m, reflect.ValueOf(dst).Elem())
		}
	}
}

// literalTextInto is keepLiteralText for one mapping and the struct it was decoded into.
func literalTextInto(m *ast.MappingNode, v reflect.Value) {
	t := v.Type()
	for _, kv := range m.Values {
		if kv.Key == nil {
			continue
		}
		for i := range t.NumField() {
			if t.Field(i).Tag.Get("yaml") != kv.Key.String() {
				continue
			}
			field := v.Field(i)
			switch node := kv.Value.(type) {
			case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode, *ast.BoolNode:
				if field.Kind() == reflect.String {
					field.SetString(node.GetToken().Value)
				}
			case *ast.MappingNode:
				if field.Kind() == reflect.Struct {
					literalTextInto(node, field)
				}
			}
		}
	}
}

// describeYAMLError says what is wrong with camera.yml, with the offending line. A value of
// the wrong type is described by its key and what the key takes ("mdns: want true or false,
// got yes"): the parser's own words name Go types and struct fields, and for a nested key
// (wifi.psk) the parent's.
func describeYAMLError(err error, data []byte) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) || te.Token == nil || te.Token.Position == nil || te.DstType == nil {
		return yaml.FormatError(err, false, true)
	}
	pos := te.Token.Position
	key := "value"
	if lines := strings.Split(string(data), "\n"); pos.Line >= 1 && pos.Line <= len(lines) {
		if k, _, ok := strings.Cut(lines[pos.Line-1], ":"); ok {
			key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(k), "- "))
		}
	}
	want := "a " + te.DstType.String()
	switch te.DstType.Kind() {
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number"
	case reflect.String:
		want = "text (quote it if it looks like something else)"
	}
	got := strings.TrimSpace(te.Token.Value)
	switch got {
	case "[", "-":
		got = "a list"
	case "{":
		got = "a mapping"
	}
	var p printer.Printer
	return fmt.Sprintf("[%d:%d] %s: want %s, got %s\n%s", pos.Line, pos.Column, key, want, got,
		p.PrintErrorToken(te.Token, false))
}

// checkWholeNumbers rejects a number with a fraction for a field that takes a whole number:
// the YAML decoder would cut "width: 640.5" down to 640 without a word. (2e6 for the bitrate
// is a whole number, and fine.) The values under controls: are whole numbers too, and one
// left out ("brightness:") is an error there rather than the 0 the decoder would make of it.
func checkWholeNumbers(data []byte) error {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil // the decoder has already accepted it; nothing more to say
	}
	wholeNumber := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.Int {
			wholeNumber[f.Tag.Get("yaml")] = true
		}
	}
	for _, doc := range file.Docs {
		m, ok := doc.Body.(*ast.MappingNode)
		if !ok {
			continue
		}
		for _, kv := range m.Values {
			if kv.Key == nil {
				continue
			}
			if controls, ok := kv.Value.(*ast.MappingNode); ok && kv.Key.String() == "controls" {
				for _, c := range controls.Values {
					if c.Key == nil {
						continue
					}
					if err := wholeNumberValue("controls."+c.Key.String(), c.Value, true); err != nil {
						return err
					}
				}
			}
			if wholeNumber[kv.Key.String()] {
				if err := wholeNumberValue(kv.Key.String(), kv.Value, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wholeNumberValue is checkWholeNumbers for one value: a fraction is an error, and so is
// nothing at all where required.
func wholeNumberValue(key string, v ast.Node, required bool) error {
	got := ""
	switch n := v.(type) {
	case *ast.FloatNode:
		if n.Value == math.Trunc(n.Value) {
			return nil
		}
		got = n.GetToken().Value
	case *ast.NullNode:
		if !required {
			return nil
		}
		got = "nothing"
	default:
		return nil
	}
	tok := v.GetToken()
	if tok == nil || tok.Position == nil {
		return fmt.Errorf("%s: want a whole number, got %s", key, got)
	}
	var p printer.Printer
	return fmt.Errorf("[%d:%d] %s: want a whole number, got %s\n%s", tok.Position.Line, tok.Position.Column, key, got,
		p.PrintErrorToken(tok, false))
}
