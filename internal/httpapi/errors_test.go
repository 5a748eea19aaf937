package httpapi

import (
	"fmt"
	"testing"

	"github.com/vellum-sign/vellum/internal/envelope"
)

// Every target maps to its own entry, wrapped or not and whatever its
// place in the table: no entry shadows another.
func TestDomainErrors_EachTargetMapsToItsOwnEntry(t *testing.T) {
	seen := map[error]bool{}
	for _, m := range domainErrors {
		if seen[m.target] {
			t.Errorf("%v is in the table twice", m.target)
		}
		seen[m.target] = true
		for _, err := range []error{m.target, fmt.Errorf("context: %w", m.target)} {
			got, ok := domainErrorFor(err)
			if !ok || got.code != m.code || got.status != m.status {
				t.Errorf("%v: got %d %s, want %d %s", err, got.status, got.code, m.status, m.code)
			}
		}
	}
}

func TestDomainErrors_MostSpecificWins(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("sign: %w", envelope.ErrAlreadySigned), "recipient_already_signed"},
		{fmt.Errorf("sign: %w", envelope.ErrTokenUsed), "recipient_already_finished"},
		{fmt.Errorf("open: %w", envelope.ErrEnvelopeVoided), "envelope_voided"},
		{fmt.Errorf("open: %w", envelope.ErrTokenGone), "signing_link_expired"},
	} {
		if got, _ := domainErrorFor(tc.err); got.code != tc.code {
			t.Errorf("%v: %s, want %s", tc.err, got.code, tc.code)
		}
	}
	if _, ok := domainErrorFor(fmt.Errorf("plain")); ok {
		t.Error("an unknown error matched")
	}
}
