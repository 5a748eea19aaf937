package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// secretBytes is the key size: 32 random bytes, above the specification's
// 24-byte minimum.
const secretBytes = 32

// newSecret returns a fresh `whsec_…` secret.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return webhookverify.SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// signatureHeader signs one attempt with every live secret, newest first,
// space-separated as the specification allows.
func signatureHeader(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := webhookverify.Sign(s, id, ts, body)
		if err != nil {
			return "", fmt.Errorf("sign webhook %s: %w", id, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
