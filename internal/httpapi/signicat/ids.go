package signicat

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/vellum-sign/vellum/internal/httpapi"
)

// Signicat names every object with a UUID. Vellum's ids are a type prefix
// and a UUIDv7 in hex (ident.New), so each maps to the other without a
// table: doc_0193… ↔ 0193…-…, the same object under both APIs.

// toUUID renders a Vellum id as the UUID Signicat's clients expect.
func toUUID(id string) string {
	_, hexPart, ok := strings.Cut(id, "_")
	if !ok {
		return id
	}
	u, err := uuid.Parse(hexPart)
	if err != nil {
		return id
	}
	return u.String()
}

// fromUUID reads the path or body UUID named param as the Vellum id with
// prefix; anything but a UUID is a 400 naming param.
func fromUUID(param, prefix, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", httpapi.NewValidationProblem([]httpapi.InvalidParam{{Name: param, Reason: "must be a UUID such as d1234567-89ab-cdef-0123-456789abcdef"}})
	}
	return prefix + "_" + strings.ReplaceAll(u.String(), "-", ""), nil
}

// badUUID is the invalidParam of a body field that is not a UUID, or "".
func badUUID(s string) string {
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		return "must be a UUID such as d1234567-89ab-cdef-0123-456789abcdef"
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
