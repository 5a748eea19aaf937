package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// maxJSONBody bounds JSON request bodies; uploads have their own limit.
const maxJSONBody = 1 << 20

// MaxInvalidParams caps the entries of one validation problem: a crafted
// request with a million bad parts must not buy a response as large.
const MaxInvalidParams = 50

// NewValidationProblem is the 400 listing every invalid input at once (the
// first MaxInvalidParams of them, by name; the detail counts the rest).
func NewValidationProblem(params []InvalidParam) *Problem {
	p := NewProblem(http.StatusBadRequest, "validation_failed", "the request has invalid fields; see invalidParams")
	if len(params) == 1 {
		p.Detail = params[0].Name + ": " + params[0].Reason
	}
	// Stable order, by name, whatever order the checks ran in.
	sort.SliceStable(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	if n := len(params); n > MaxInvalidParams {
		p.Detail = fmt.Sprintf("the request has %d invalid fields; invalidParams lists the first %d", n, MaxInvalidParams)
		params = params[:MaxInvalidParams]
	}
	p.InvalidParams = params
	return p
}

// requireContentType refuses a body whose media type is not one of types.
func requireContentType(c echo.Context, types ...string) (string, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" {
		return "", NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"missing Content-Type; send "+strings.Join(types, " or "))
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("malformed Content-Type %q; send %s", ct, strings.Join(types, " or ")))
	}
	for _, t := range types {
		if mt == t {
			return mt, nil
		}
	}
	return "", NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
		fmt.Sprintf("Content-Type %s is not accepted here; send %s", mt, strings.Join(types, " or ")))
}

// bindJSON decodes a JSON object body into dst, a pointer to a struct with
// json tags. Transport problems (wrong content type, oversize, malformed
// JSON, not an object) come back as err; field problems (unknown fields,
// wrong types) as invalid, every one of them, so the handler can add its own
// checks and answer once. Fields that decoded are set in dst.
func bindJSON(c echo.Context, dst any, contentTypes ...string) (invalid []InvalidParam, err error) {
	if len(contentTypes) == 0 {
		contentTypes = []string{"application/json"}
	}
	if _, err := requireContentType(c, contentTypes...); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("the JSON body exceeds %d bytes", maxJSONBody))
		}
		if p := bodyProblem(err); p != nil {
			return nil, p
		}
		return nil, NewProblem(http.StatusBadRequest, "malformed_body", "could not read the request body: "+err.Error())
	}
	return decodeObject(body, dst)
}

// decodeObject is bindJSON without the HTTP parts (and what the fuzz test
// drives).
func decodeObject(body []byte, dst any) ([]InvalidParam, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, NewProblem(http.StatusBadRequest, "malformed_json", "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, NewProblem(http.StatusBadRequest, "malformed_json", "the request body is not valid UTF-8, as JSON must be")
	}
	if err := syntaxCheck(body); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, NewProblem(http.StatusBadRequest, "malformed_json", "the request body must be a JSON object")
	}
	rv := reflect.ValueOf(dst).Elem()
	rt := rv.Type()
	byName := map[string][]int{}
	fieldsOf(rt, nil, byName)
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var invalid []InvalidParam
	for _, name := range names {
		i, ok := byName[name]
		if !ok {
			invalid = append(invalid, InvalidParam{Name: name, Reason: "unknown field"})
			continue
		}
		f := rt.FieldByIndex(i)
		v := reflect.New(f.Type)
		if err := json.Unmarshal(fields[name], v.Interface()); err != nil {
			at, reason := typeProblem(name, f.Type, fields[name], err)
			invalid = append(invalid, InvalidParam{Name: at, Reason: reason})
			continue
		}
		if at, reason := badString(name, v.Elem()); reason != "" {
			invalid = append(invalid, InvalidParam{Name: at, Reason: reason})
			continue
		}
		if unknown := unknownFields(name, fields[name], f.Type); len(unknown) > 0 {
			invalid = append(invalid, unknown...)
			continue
		}
		rv.FieldByIndex(i).Set(v.Elem())
	}
	return invalid, nil
}

// fieldsOf maps the JSON names of t's fields to their index paths; the
// fields of embedded structs count as t's own, as encoding/json has them.
func fieldsOf(t reflect.Type, prefix []int, byName map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int{}, prefix...), i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			fieldsOf(f.Type, idx, byName)
			continue
		}
		if name == "" && f.IsExported() && !f.Anonymous {
			name = f.Name // as encoding/json names an untagged field
		}
		if name != "" && name != "-" {
			byName[name] = idx
		}
	}
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// unknownFields lists the members of raw, at any depth below path, that t
// has no field for. encoding/json drops them silently, so a misspelt or
// unsupported member ("phone", "channel" on a recipient) would otherwise
// be ignored while the request succeeds. raw has already been decoded into
// t, so its shape matches; types that decode themselves are trusted.
func unknownFields(path string, raw json.RawMessage, t reflect.Type) []InvalidParam {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return nil
	}
	var out []InvalidParam
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return nil
		}
		byName := map[string][]int{}
		fieldsOf(t, nil, byName)
		names := make([]string, 0, len(members))
		for k := range members {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			i, ok := byName[k]
			if !ok {
				out = append(out, InvalidParam{Name: path + "." + k, Reason: "unknown field"})
				continue
			}
			out = append(out, unknownFields(path+"."+k, members[k], t.FieldByIndex(i).Type)...)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 bytes
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for n, item := range items {
			out = append(out, unknownFields(fmt.Sprintf("%s[%d]", path, n), item, t.Elem())...)
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return nil
		}
		keys := make([]string, 0, len(members))
		for k := range members {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, unknownFields(path+"."+k, members[k], t.Elem())...)
		}
	}
	return out
}

// syntaxCheck reports malformed JSON with its byte offset.
func syntaxCheck(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return NewProblem(http.StatusBadRequest, "malformed_json",
				fmt.Sprintf("unexpected data after the JSON value at byte offset %d", dec.InputOffset()))
		}
		return nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return NewProblem(http.StatusBadRequest, "malformed_json",
			fmt.Sprintf("malformed JSON at byte offset %d: %s", se.Offset, se.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, "malformed_json", "malformed JSON: the body ends in the middle of a value")
	}
	return NewProblem(http.StatusBadRequest, "malformed_json", "malformed JSON: "+err.Error())
}

// typeProblem explains a value that does not fit its field: it descends
// into arrays, objects and maps to the innermost value that is wrong, so the
// answer names it ("recipients[1].name: must be a string, not a number")
// rather than its container.
func typeProblem(name string, t reflect.Type, raw json.RawMessage, err error) (string, string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	got := jsonKind(raw)
	switch {
	case t.Kind() == reflect.Slice && got == "an array":
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) == nil {
			for i, el := range elems {
				if e := json.Unmarshal(el, reflect.New(t.Elem()).Interface()); e != nil {
					return typeProblem(fmt.Sprintf("%s[%d]", name, i), t.Elem(), el, e)
				}
			}
		}
	case t.Kind() == reflect.Map && got == "an object":
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if e := json.Unmarshal(m[k], reflect.New(t.Elem()).Interface()); e != nil {
					return typeProblem(name+"."+k, t.Elem(), m[k], e)
				}
			}
		}
	case t.Kind() == reflect.Struct && got == "an object":
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				el, ok := m[jsonName(f)]
				if !ok || !f.IsExported() {
					continue
				}
				if e := json.Unmarshal(el, reflect.New(f.Type).Interface()); e != nil {
					return typeProblem(name+"."+jsonName(f), f.Type, el, e)
				}
			}
		}
	}
	want := map[reflect.Kind]string{
		reflect.String: "a string", reflect.Bool: "a boolean", reflect.Int: "an integer",
		reflect.Int64: "an integer", reflect.Float64: "a number", reflect.Slice: "an array",
		reflect.Map: "an object", reflect.Struct: "an object",
	}[t.Kind()]
	if want == "" || want == got {
		return name, "is invalid: " + err.Error()
	}
	return name, fmt.Sprintf("must be %s, not %s", want, got)
}

func jsonKind(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if bytes.ContainsAny(s, ".eE") {
		return "a number"
	}
	return "a number"
}
