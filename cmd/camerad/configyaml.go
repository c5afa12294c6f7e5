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
	"github.com/goccy/go-yaml/token"
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

// describeYAMLError says what is wrong with camera.yml, with the offending line. An error
// about a value names it by its full field ("controls.brightness: want a whole number, got
// high", "wifi.ssid: want text..., got a list") and says what the field takes: the decoder's
// own words name Go types and struct fields, and the key it names is the innermost one alone
// (or, for a value in a {flow: mapping} or on a line of its own, the parent's or none).
func describeYAMLError(err error, data []byte) string {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return yaml.FormatError(err, false, true)
	}
	tok := ye.GetToken()
	field, found := fieldAt(data, tok.Position)
	if !found {
		field = "value"
	}
	var (
		te  *yaml.TypeError
		oe  *yaml.OverflowError
		ne  *yaml.UnexpectedNodeTypeError
		ue  *yaml.UnknownFieldError
		msg string
	)
	switch {
	case errors.As(err, &te) && te.DstType != nil:
		msg = fmt.Sprintf("%s: want %s, got %s", field, wantType(te.DstType), gotValue(tok))
	case errors.As(err, &oe) && oe.SrcNum == "NaN":
		msg = fmt.Sprintf("%s: want a whole number, got %s", field, tok.Value)
	case errors.As(err, &oe) && strings.HasPrefix(field, "controls."):
		msg = fmt.Sprintf("%s: %s is out of range: %s", field, tok.Value, controlRange)
	case errors.As(err, &oe):
		msg = fmt.Sprintf("%s: %s is out of range", field, tok.Value)
	case errors.As(err, &ne) && found:
		want := "a mapping (name: value pairs)"
		if ne.Expected == ast.SequenceType {
			want = "a list"
		}
		msg = fmt.Sprintf("%s: want %s, got %s", field, want, gotValue(tok))
	case errors.As(err, &ue) && found:
		msg = fmt.Sprintf("unknown field %q", field)
	case strings.Contains(field, "."):
		// Another error about a nested key (one given twice): the decoder names the key alone.
		msg = field + ": " + ye.GetMessage()
	default:
		return yaml.FormatError(err, false, true)
	}
	var p printer.Printer
	return fmt.Sprintf("[%d:%d] %s\n%s", tok.Position.Line, tok.Position.Column, msg, p.PrintErrorToken(tok, false))
}

// wantType says what a field of type t takes, in camera.yml's terms.
func wantType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "text (quote it if it looks like something else)"
	case reflect.Map, reflect.Struct:
		return "a mapping (name: value pairs)"
	}
	return "a " + t.String()
}

// gotValue says what the value at tok is: the text as written, or the kind of a collection
// (whose token is only its first character).
func gotValue(tok *token.Token) string {
	switch tok.Type {
	case token.SequenceStartType, token.SequenceEntryType:
		return "a list"
	case token.MappingStartType, token.MappingValueType:
		return "a mapping"
	}
	return strings.TrimSpace(tok.Value)
}

// fieldAt names the field whose key or value is at pos, the keys from the top joined by dots
// ("wifi.ssid", "controls.brightness"). found is false where no key or value starts there
// (the whole document, a key that is no name).
func fieldAt(data []byte, pos *token.Position) (field string, found bool) {
	// Duplicates allowed: a key given twice is one of the errors to place.
	file, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return "", false
	}
	for _, doc := range file.Docs {
		if field, found = fieldIn(doc.Body, "", pos); found {
			return field, true
		}
	}
	return "", false
}

// fieldIn is fieldAt within node n, the value of field path ("" for the document).
func fieldIn(n ast.Node, path string, pos *token.Position) (string, bool) {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, kv := range n.Values {
			if f, ok := fieldIn(kv, path, pos); ok {
				return f, true
			}
		}
	case *ast.MappingValueNode:
		if n.Key == nil {
			return "", false
		}
		name := keyText(n.Key)
		if path != "" {
			name = path + "." + name
		}
		// The key itself (unknown, given twice), or its value: a collection's error is about
		// the whole of it rather than a key inside, so the outer field is the one to name.
		if startsAt(n.Key, pos) || startsAt(n.Value, pos) {
			return name, true
		}
		return fieldIn(n.Value, name, pos)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			if f, ok := fieldIn(v, path, pos); ok {
				return f, true
			}
		}
	case *ast.AnchorNode:
		return fieldIn(n.Value, path, pos)
	case *ast.TagNode:
		return fieldIn(n.Value, path, pos)
	}
	return "", false
}

// startsAt reports whether node n (or the value an anchor or a tag in front of it marks)
// begins at pos: the decoder's errors point at the value's own first token.
func startsAt(n ast.Node, pos *token.Position) bool {
	for n != nil {
		if tok := n.GetToken(); tok != nil && tok.Position != nil && tok.Position.Line == pos.Line &&
			tok.Position.Column == pos.Column {
			return true
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return false
		}
	}
	return false
}

// keyText is a key as the decoder reads it: unquoted.
func keyText(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	if tok := k.GetToken(); tok != nil {
		return tok.Value
	}
	return k.String()
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
					if err := wholeNumberValue("controls."+keyText(c.Key), c.Value, true); err != nil {
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
