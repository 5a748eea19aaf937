package envelope

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// startLogin writes an identity-provider login's state and binding hashes
// and its start time (ss.OIDCStartedAt is set).
func (st store) startLogin(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"oidc_state_hash": ss.OIDCStateHash,
		"oidc_binding_hash": ss.OIDCBindingHash, "oidc_started_at": *ss.OIDCStartedAt}).Error; err != nil {
		return fmt.Errorf("start login of session %s: %w", ss.ID, err)
	}
	return nil
}

// endLogin forgets a login's state, so its callback works once.
func (st store) endLogin(ctx context.Context, ss *Session) error {
	ss.OIDCStateHash = ""
	if err := st.db.Conn(ctx).Model(ss).Update("oidc_state_hash", "").Error; err != nil {
		return fmt.Errorf("end login of session %s: %w", ss.ID, err)
	}
	return nil
}

// sessionByLoginState finds the session whose login in progress has the
// state hashing to stateHash; ErrLoginUnknown if none has.
func (st store) sessionByLoginState(ctx context.Context, stateHash string) (*Session, error) {
	var ss Session
	if err := st.db.Conn(ctx).Where("oidc_state_hash = ?", stateHash).Take(&ss).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrLoginUnknown
		}
		return nil, fmt.Errorf("find login: %w", err)
	}
	return &ss, nil
}

// recipientByID reads one recipient without locking its envelope.
func (st store) recipientByID(ctx context.Context, id string) (*Recipient, error) {
	var r Recipient
	if err := st.db.Conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, fmt.Errorf("find recipient %s: %w", id, err)
	}
	return &r, nil
}

// setIdentity writes whom r's identity provider vouched for, and when
// (both nil: forgotten).
func (st store) setIdentity(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Select("identity", "identified_at").Updates(r).Error; err != nil {
		return fmt.Errorf("record identity of %s: %w", r.ID, err)
	}
	return nil
}
