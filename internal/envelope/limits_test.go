package envelope_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSigner_UnknownTokenRefusedBeforeTheBody announces a body it never
// sends: an unknown token is answered at once (404, connection closed)
// instead of waiting for the body.
func TestSigner_UnknownTokenRefusedBeforeTheBody(t *testing.T) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/signer/bogus-token-%d/sign HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", time.Now().UnixNano())
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a hang fails, it does not block the suite
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !resp.Close {
		t.Errorf("unknown token with a pending body: %d, close %v; want 404 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestCreate_NULInStringsIsA400 puts NUL into an envelope's strings and ids.
func TestCreate_NULInStringsIsA400(t *testing.T) {
	c := newClient(t)
	doc := c.upload("doc.pdf", samplePDF("NUL", 1))
	base := func() map[string]any {
		return map[string]any{"subject": "s", "documentIds": []string{doc},
			"recipients": []map[string]any{{"email": "a@example.com", "name": "Ann", "role": "SIGNER"}}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		param string
	}{
		{"externalReference", func(m map[string]any) { m["externalReference"] = "ref\x00" }, "externalReference"},
		{"documentIds", func(m map[string]any) { m["documentIds"] = []string{doc, "doc_\x00"} }, "documentIds[1]"},
		{"metadata", func(m map[string]any) { m["metadata"] = map[string]string{"k": "v\x00"} }, "metadata.k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			r := c.do(http.MethodPost, "/api/v1/envelopes", m)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%d %s", r.status, r.body)
			}
			ps, _ := r.json(t)["invalidParams"].([]any)
			if len(ps) != 1 || ps[0].(map[string]any)["name"] != tc.param {
				t.Errorf("invalidParams %v, want one at %s", ps, tc.param)
			}
		})
	}
	if r := c.do(http.MethodGet, "/api/v1/envelopes/env_%00", nil); r.status != http.StatusNotFound {
		t.Errorf("NUL in an envelope id: %d %s", r.status, r.body)
	}
}

// TestCreate_NestedTypeErrorNamesTheElement: a wrong type inside an array
// of objects is reported where it is, not as "must be an array, not an
// array".
func TestCreate_NestedTypeErrorNamesTheElement(t *testing.T) {
	c := newClient(t)
	r := c.do(http.MethodPost, "/api/v1/envelopes", `{"subject":"s","recipients":[{"email":"a@example.com","name":"A","role":"SIGNER"},{"email":5,"name":"B"}]}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("%d %s", r.status, r.body)
	}
	found := false
	for _, p := range r.json(t)["invalidParams"].([]any) {
		pm := p.(map[string]any)
		if pm["name"] == "recipients" {
			t.Errorf("the error is reported on the array: %v", pm)
		}
		if pm["name"] == "recipients[1].email" && pm["reason"] == "must be a string, not a number" {
			found = true
		}
	}
	if !found {
		t.Errorf("no recipients[1].email type error in %s", r.body)
	}
}

// TestCreate_UnknownFieldsAtEveryDepth: members the API has no field for
// are a 400 naming their JSON path, however deep, and nothing is created.
func TestCreate_UnknownFieldsAtEveryDepth(t *testing.T) {
	c := newClient(t)
	before := c.do(http.MethodGet, "/api/v1/envelopes?limit=1", "").json(t)["total"]
	r := c.do(http.MethodPost, "/api/v1/envelopes", `{"subject":"s","recipients":[`+
		`{"email":"a@example.com","name":"A","role":"SIGNER"},`+
		`{"email":"b@example.com","name":"B","role":"SIGNER","phone":"+4712345678","channel":"SMS",`+
		`"fields":[{"documentId":"doc_x","type":"SIGNATURE","page":1,"x":1,"y":1,"width":10,"height":10,"colour":"red"}]}]}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := map[string]string{}
	for _, p := range r.json(t)["invalidParams"].([]any) {
		pm := p.(map[string]any)
		got[pm["name"].(string)] = pm["reason"].(string)
	}
	for _, name := range []string{"recipients[1].phone", "recipients[1].channel", "recipients[1].fields[0].colour"} {
		if got[name] != "unknown field" {
			t.Errorf("%s: %q; all: %v", name, got[name], got)
		}
	}
	if after := c.do(http.MethodGet, "/api/v1/envelopes?limit=1", "").json(t)["total"]; after != before {
		t.Errorf("envelopes before %v, after %v", before, after)
	}
}
