package vellum

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The SDK's types are written by hand; these tests hold them to
// openapi/openapi.yaml, the contract the server is itself tested against.
// Both directions are checked at every depth: every JSON field of an SDK
// type is a property of its schema (so the SDK never sends or expects what
// the API does not know), and every property of the schema is a field of
// the SDK type (so nothing the API offers or returns is out of reach).
// Kinds must agree, a property the API may send as null must be a pointer
// (or slice/map) in Go, and a required request property must not be
// omitempty (a zero value would silently vanish).

type schemaDoc struct {
	Components struct {
		Schemas map[string]any `yaml:"schemas"`
	} `yaml:"components"`
	Paths map[string]map[string]any `yaml:"paths"`
}

func loadSpec(t *testing.T) *schemaDoc {
	t.Helper()
	b, err := os.ReadFile("../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d schemaDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// specPairs maps each SDK type to its schema. request marks bodies the SDK
// sends.
var specPairs = []struct {
	v       any
	schema  string
	request bool
}{
	{Document{}, "Document", false},
	{DocumentUpdate{}, "DocumentUpdate", true},
	{page[Document]{}, "DocumentList", false},
	{Envelope{}, "Envelope", false},
	{page[Envelope]{}, "EnvelopeList", false},
	{EnvelopeRequest{}, "EnvelopeRequest", true},
	{VoidRequest{}, "VoidRequest", true},
	{EnvelopeEvent{}, "EnvelopeEvent", false},
	{page[EnvelopeEvent]{}, "EnvelopeEventList", false},
	{SignerView{}, "SignerView", false},
	{SignRequest{}, "SignRequest", true},
	{DeclineRequest{}, "DeclineRequest", true},
	{Webhook{}, "Webhook", false},
	{WebhookWithSecret{}, "WebhookWithSecret", false},
	{page[Webhook]{}, "WebhookList", false},
	{WebhookRequest{}, "CreateWebhookRequest", true},
	{WebhookUpdate{}, "WebhookUpdate", true},
	{WebhookDelivery{}, "WebhookDelivery", false},
	{WebhookDeliveryDetail{}, "WebhookDeliveryDetail", false},
	{page[WebhookDelivery]{}, "WebhookDeliveryList", false},
	{Key{}, "Key", false},
	{CreatedKey{}, "CreatedKey", false},
	{page[Key]{}, "KeyList", false},
	{KeyRequest{}, "CreateKeyRequest", true},
	{Account{}, "Account", false},
	{AccountUpdate{}, "AccountUpdate", true},
	{Person{}, "Person", false},
	{page[Person]{}, "PersonList", false},
	{PersonRequest{}, "CreatePersonRequest", true},
	{PersonUpdate{}, "PersonUpdate", true},
	{Certificate{}, "PersonCertificate", false},
	{page[Certificate]{}, "PersonCertificateList", false},
	{CertificateRequest{}, "CreateCertificateRequest", true},
	{CertificateUpdate{}, "PersonCertificateUpdate", true},
	{RevokeRequest{}, "RevokeCertificateRequest", true},
	{Error{}, "EnvelopeStateProblem", false},
	{InvalidParam{}, "InvalidParam", false},
}

func TestTypes_MatchOpenAPISchemas(t *testing.T) {
	d := loadSpec(t)
	for _, p := range specPairs {
		s, ok := d.Components.Schemas[p.schema]
		if !ok {
			t.Errorf("%T: no schema %s in openapi.yaml", p.v, p.schema)
			continue
		}
		c := &specChecker{doc: d, request: p.request}
		c.object(p.schema, reflect.TypeOf(p.v), s)
		for _, e := range c.errs {
			t.Errorf("%T ↔ %s: %s", p.v, p.schema, e)
		}
	}
}

// TestTypes_ProblemIsError holds Error to the plain Problem schema too:
// every field but currentState (EnvelopeStateProblem's own) is in it.
func TestTypes_ProblemIsError(t *testing.T) {
	d := loadSpec(t)
	c := &specChecker{doc: d}
	props, _ := c.shape(d.Components.Schemas["Problem"])
	fields := jsonFields(reflect.TypeOf(Error{}))
	for name := range props {
		if _, ok := fields[name]; !ok {
			t.Errorf("Problem.%s has no field in Error", name)
		}
	}
	for name := range fields {
		if _, ok := props[name]; !ok && name != "currentState" {
			t.Errorf("Error.%s is not in Problem", name)
		}
	}
}

// TestSpecChecker_CatchesDrift proves the checker fails on each kind of
// drift it claims to find, so a green run means something.
func TestSpecChecker_CatchesDrift(t *testing.T) {
	d := loadSpec(t)
	type extra struct {
		ID    string `json:"id"`
		Bogus string `json:"bogus"`
	}
	type missing struct {
		ID string `json:"id"`
	}
	type wrongKind struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	type notNullable struct {
		Name string    `json:"name"`
		At   time.Time `json:"at"`
	}
	type omitRequired struct {
		Name string `json:"name,omitempty"`
	}
	obj := func(req []string, props map[string]any) any {
		r := make([]any, len(req))
		for i, s := range req {
			r[i] = s
		}
		return map[string]any{"type": "object", "required": r, "properties": props}
	}
	str := map[string]any{"type": "string"}
	cases := []struct {
		name    string
		v       any
		schema  any
		request bool
		want    string
	}{
		{"unknown field", extra{}, obj([]string{"id"}, map[string]any{"id": str}), false, "bogus"},
		{"missing property", missing{}, obj([]string{"id"}, map[string]any{"id": str, "name": str}), false, "name"},
		{"wrong kind", wrongKind{}, obj(nil, map[string]any{"id": str, "name": str}), false, "id"},
		{"nullable not pointer", notNullable{}, obj([]string{"name", "at"}, map[string]any{"name": str,
			"at": map[string]any{"type": []any{"string", "null"}, "format": "date-time"}}), false, "at"},
		{"required request field omitempty", omitRequired{}, obj([]string{"name"}, map[string]any{"name": str}), true, "name"},
		{"nested drift", SignerView{}, d.Components.Schemas["Envelope"], false, "envelope"},
	}
	for _, tc := range cases {
		c := &specChecker{doc: d, request: tc.request}
		c.object("T", reflect.TypeOf(tc.v), tc.schema)
		if !slices.ContainsFunc(c.errs, func(e string) bool { return strings.Contains(e, tc.want) }) {
			t.Errorf("%s: no error naming %q; got %q", tc.name, tc.want, c.errs)
		}
	}
}

type specChecker struct {
	doc     *schemaDoc
	request bool
	errs    []string
}

func (c *specChecker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// resolve follows $ref.
func (c *specChecker) resolve(s any) map[string]any {
	m, _ := s.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m, _ = c.doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	return m
}

// shape returns an object schema's properties and required names, merging
// allOf members and the object branches of oneOf/anyOf.
func (c *specChecker) shape(s any) (map[string]any, map[string]bool) {
	m := c.resolve(s)
	props, req := map[string]any{}, map[string]bool{}
	if m == nil {
		return props, req
	}
	if p, ok := m["properties"].(map[string]any); ok {
		for k, v := range p {
			props[k] = v
		}
	}
	if r, ok := m["required"].([]any); ok {
		for _, n := range r {
			req[n.(string)] = true
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		list, _ := m[k].([]any)
		for _, sub := range list {
			p, r := c.shape(sub)
			for n, v := range p {
				props[n] = v
			}
			if k == "allOf" {
				for n := range r {
					req[n] = true
				}
			}
		}
	}
	return props, req
}

// types returns the JSON types a schema allows ("null" included), looking
// through oneOf/anyOf branches; empty means anything.
func (c *specChecker) types(s any) []string {
	m := c.resolve(s)
	if m == nil {
		return nil
	}
	var out []string
	switch t := m["type"].(type) {
	case string:
		out = append(out, t)
	case []any:
		for _, x := range t {
			out = append(out, x.(string))
		}
	}
	if cv, ok := m["const"]; ok && len(out) == 0 {
		switch cv.(type) {
		case string:
			out = append(out, "string")
		case bool:
			out = append(out, "boolean")
		case int:
			out = append(out, "integer")
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		list, _ := m[k].([]any)
		for _, sub := range list {
			out = append(out, c.types(sub)...)
		}
	}
	if _, ok := m["properties"]; ok && len(out) == 0 {
		out = append(out, "object")
	}
	if _, ok := m["allOf"]; ok && len(out) == 0 {
		out = append(out, "object")
	}
	return out
}

type goField struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists a struct's JSON members, flattening embedded structs
// as encoding/json does.
func jsonFields(t reflect.Type) map[string]goField {
	out := map[string]goField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = goField{typ: f.Type, omitempty: strings.Contains(opts, "omitempty")}
	}
	return out
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func (c *specChecker) object(path string, t reflect.Type, s any) {
	props, req := c.shape(s)
	fields := jsonFields(t)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := fields[n]
		p, ok := props[n]
		if !ok {
			c.errorf("%s.%s: field not in the schema", path, n)
			continue
		}
		c.value(path+"."+n, f, p, req[n])
	}
	for n := range props {
		if _, ok := fields[n]; !ok {
			c.errorf("%s.%s: schema property has no field (required: %v)", path, n, req[n])
		}
	}
}

func (c *specChecker) value(path string, f goField, s any, required bool) {
	types := c.types(s)
	nullable := slices.Contains(types, "null")
	t := f.typ
	if c.request && required && f.omitempty {
		c.errorf("%s: required in the request but omitempty", path)
	}
	if !c.request && nullable && required {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		default:
			c.errorf("%s: the API may send null; want a pointer", path)
		}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if len(types) == 0 || t == rawType || t.Kind() == reflect.Interface {
		return
	}
	want := ""
	switch {
	case t == timeType:
		want = "string"
		if m := c.resolve(s); m != nil && m["format"] != "date-time" && !nullableDateTime(c, s) {
			c.errorf("%s: time.Time but not format date-time", path)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		want = "string"
	case t.Kind() == reflect.String:
		want = "string"
	case t.Kind() == reflect.Bool:
		want = "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		want = "integer"
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		want = "number"
	case t.Kind() == reflect.Slice:
		want = "array"
	case t.Kind() == reflect.Map, t.Kind() == reflect.Struct:
		want = "object"
	}
	if !slices.Contains(types, want) {
		c.errorf("%s: Go %s but the schema says %v", path, f.typ, types)
		return
	}
	switch {
	case t.Kind() == reflect.Struct && t != timeType:
		c.object(path, t, s)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && t.Elem() != timeType:
		items := c.resolve(s)["items"]
		c.object(path+"[]", t.Elem(), items)
	}
}

func nullableDateTime(c *specChecker, s any) bool {
	m := c.resolve(s)
	for _, k := range []string{"oneOf", "anyOf"} {
		list, _ := m[k].([]any)
		for _, sub := range list {
			if r := c.resolve(sub); r != nil && r["format"] == "date-time" {
				return true
			}
		}
	}
	return false
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0":                             0,
		"7":                             7 * time.Second,
		"Sat, 28 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Sat, 28 Nov 2026 09:59:00 GMT": 0,
	} {
		if got, ok := parseRetryAfter(in, now); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("%q accepted", in)
		}
	}
}
