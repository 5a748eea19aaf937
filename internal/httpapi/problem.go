package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem detail, Vellum's only error body.
type Problem struct {
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail,omitempty"`
	Code          string         `json:"code"`
	TraceID       string         `json:"traceId,omitempty"`
	InvalidParams []InvalidParam `json:"invalidParams,omitempty"`
	// OperationID repeats the request id as an integer on surfaces whose
	// bodies all carry it (RemSig's operationId).
	OperationID *int64 `json:"operationId,omitempty"`
}

// InvalidParam names one bad input and why.
type InvalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

// NewProblem builds a problem; code is a stable snake_case identifier.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   "https://vellum.dev/problems/" + strings.ReplaceAll(code, "_", "-"),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// problemFor converts any handler error into the problem to send.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if m, ok := domainErrorFor(err); ok {
		return NewProblem(m.status, m.code, err.Error())
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		detail := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok {
			detail = s
		}
		code := map[int]string{
			http.StatusNotFound:              "not_found",
			http.StatusMethodNotAllowed:      "method_not_allowed",
			http.StatusRequestEntityTooLarge: "payload_too_large",
			http.StatusUnsupportedMediaType:  "unsupported_media_type",
			http.StatusUnauthorized:          "unauthorized",
			http.StatusForbidden:             "forbidden",
			http.StatusTooManyRequests:       "rate_limited",
			http.StatusServiceUnavailable:    "service_unavailable",
		}[he.Code]
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		}
		if he.Code == http.StatusNotFound && detail == "Not Found" {
			detail = "no such route"
		}
		return NewProblem(he.Code, code, detail)
	}
	return nil
}
