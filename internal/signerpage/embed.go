package signerpage

import (
	"context"
	"slices"
	"strings"
)

// Link is what the page knows of a token beyond the signer API, whatever
// state the link is in: the origins the account allows to frame the page,
// whose link it is (the ids every embedding event carries), and the
// language the envelope and the recipient chose.
type Link struct {
	Origins     []string
	EnvelopeID  string
	RecipientID string
	Language    string
	Locale      string
}

// LinkFunc looks up a token's link. An unknown token has none (zero Link,
// nil error); an error means it could not be looked up, and the page is
// then shown unframeable, in the browser's language.
type LinkFunc func(ctx context.Context, token string) (Link, error)

// basePolicy admits only this origin's script, style, frames (the document
// previews) and API calls; data: and blob: images are the drawn-signature
// preview. No inline script or style is needed anywhere, so none is
// allowed.
const basePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; " +
	"img-src 'self' data: blob:; connect-src 'self'; frame-src 'self'; object-src 'self'; " +
	"base-uri 'none'; form-action 'self'; "

// contentSecurityPolicy is the page's policy: framing by exactly the
// account's embed origins, or by no one (clickjacking) when it has none.
// The origins were validated and canonicalised when the account stored
// them (account.ParseEmbedOrigin), so none can smuggle a directive.
func contentSecurityPolicy(origins []string) string {
	if len(origins) == 0 {
		return basePolicy + "frame-ancestors 'none'"
	}
	return basePolicy + "frame-ancestors " + strings.Join(origins, " ")
}

// embedOrigin is the page's ?origin= parameter when it names one of the
// allowed origins: the embedding window's origin for browsers that lack
// location.ancestorOrigins. Anything else is ignored.
func embedOrigin(origins []string, param string) string {
	if slices.Contains(origins, param) {
		return param
	}
	return ""
}
