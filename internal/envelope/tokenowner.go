package envelope

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
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
	var o TokenOwner
	err := s.DB.Conn(ctx).Table("signing_sessions AS s").
		Select("e.account_id AS account_id, s.envelope_id AS envelope_id, s.recipient_id AS recipient_id, "+
			"e.language AS language, r.locale AS locale").
		Joins("JOIN envelopes e ON e.id = s.envelope_id").
		Joins("JOIN envelope_recipients r ON r.id = s.recipient_id").
		Where("s.token_hash = ?", hashToken(token)).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return TokenOwner{}, ErrTokenUnknown
	}
	if err != nil {
		return TokenOwner{}, fmt.Errorf("find owner of signing link: %w", err)
	}
	return o, nil
}
