package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// token derives a session's signing token: HMAC-SHA256 under the token key
// of the session id and its generation, 256 bits, base64url. Only its
// SHA-256 is stored.
func (s *Service) token(ss *Session) string {
	m := hmac.New(sha256.New, s.TokenKey)
	m.Write([]byte("signing-token:" + ss.ID))
	if ss.TokenGeneration > 0 {
		m.Write([]byte(":" + strconv.Itoa(ss.TokenGeneration)))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// secretHash hashes a low-entropy secret (access code) under the token key,
// bound to its purpose and owner, so a database dump alone cannot be
// brute-forced.
func (s *Service) secretHash(purpose, owner, secret string) string {
	m := hmac.New(sha256.New, s.TokenKey)
	m.Write([]byte(purpose + ":" + owner + ":" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// SignURL is the link a recipient signs at.
func (s *Service) SignURL(ss *Session) string {
	return s.PublicURL + "/s/" + s.token(ss)
}
