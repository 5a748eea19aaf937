package envelope

import (
	"context"
)

// TokenOwner names whose signing link a token is.
type TokenOwner struct {
	AccountID   string
	EnvelopeID  string
	RecipientID string
	// Language and Locale are the envelope's and the recipient's BCP 47
	// languages ("" when unset).
	Language string
	Locale   string
}

// OwnerOf returns whose link token is, without locking or recording
// anything and whatever state the link is in: the signing page needs the
// account's embedding policy even to say that a link has expired.
func (s *Service) OwnerOf(ctx context.Context, token string) (TokenOwner, error) {
	if token == "" || len(token) > 128 {
		return TokenOwner{}, ErrTokenUnknown
	}
	return s.store.ownerOfToken(ctx, hashToken(token))
}
