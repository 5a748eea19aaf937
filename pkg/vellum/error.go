package vellum

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Error is a failed call's RFC 9457 problem document. Reach it with
// errors.As:
//
//	var apiErr *vellum.Error
//	if errors.As(err, &apiErr) && apiErr.Code == "invalid_state" { … }
type Error struct {
	// Type is a URI naming the kind of problem.
	Type string `json:"type"`
	// Title is a short human summary of the kind of problem.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Code is the stable snake_case identifier to branch on.
	Code string `json:"code"`
	// TraceID is the request's id (also its Operation-Id header); quote it
	// when reporting a problem.
	TraceID string `json:"traceId,omitempty"`
	// InvalidParams lists every invalid field of the request at once.
	InvalidParams []InvalidParam `json:"invalidParams,omitempty"`
	// CurrentState is the envelope's state on an illegal transition (code
	// invalid_state).
	CurrentState EnvelopeStatus `json:"currentState,omitempty"`
}

// InvalidParam is one invalid field of a request.
type InvalidParam struct {
	// Name is the field's JSON path, query parameter or header.
	Name string `json:"name"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vellum: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if msg := e.Detail; msg != "" || e.Title != "" {
		if msg == "" {
			msg = e.Title
		}
		b.WriteString(": " + msg)
	}
	for i, p := range e.InvalidParams {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.Name + ": " + p.Reason)
		if i == len(e.InvalidParams)-1 {
			b.WriteString(")")
		}
	}
	if e.TraceID != "" {
		b.WriteString(" [trace " + e.TraceID + "]")
	}
	return b.String()
}

// readError turns a non-2xx response into an *Error and closes its body.
// A body that is not a problem document (a proxy's HTML page) still gives
// the status and a title.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		_ = json.Unmarshal(body, e)
	}
	e.Status = resp.StatusCode
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	if e.Detail == "" && e.Code == "" && mt != "application/problem+json" {
		e.Detail = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	if e.TraceID == "" {
		e.TraceID = resp.Header.Get("Operation-Id")
	}
	return e
}
