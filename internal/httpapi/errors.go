package httpapi

import (
	"errors"
	"net/http"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/seal"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/internal/websession"
)

// domainError maps every error that wraps target to a problem with status
// and code; the error's text becomes the detail.
type domainError struct {
	target error
	status int
	code   string
}

// domainErrors is the one table from domain errors to problems, for every
// adapter under httpapi. Order does not matter: when an error matches
// several targets, the most specific one (the target that itself wraps the
// others) wins, so envelope.ErrAlreadySigned answers
// recipient_already_signed rather than the ErrTokenUsed it wraps.
var domainErrors = []domainError{
	{account.ErrNotFound, http.StatusNotFound, "not_found"},
	{account.ErrVersionMismatch, http.StatusPreconditionFailed, "precondition_failed"},
	{account.ErrEnvironmentMismatch, http.StatusForbidden, "environment_mismatch"},

	{document.ErrNotFound, http.StatusNotFound, "document_not_found"},
	{seal.ErrNotSignable, http.StatusUnprocessableEntity, "document_not_signable"},
	{collection.ErrNotFound, http.StatusNotFound, "document_collection_not_found"},
	{document.ErrNotPDF, http.StatusUnprocessableEntity, "not_a_pdf"},
	{document.ErrTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{document.ErrInUse, http.StatusConflict, "document_in_use"},
	{document.ErrVersionMismatch, http.StatusPreconditionFailed, "precondition_failed"},

	{envelope.ErrNotFound, http.StatusNotFound, "envelope_not_found"},
	{envelope.ErrVersionMismatch, http.StatusPreconditionFailed, "precondition_failed"},
	{envelope.ErrTokenUnknown, http.StatusNotFound, "signing_link_not_found"},
	{envelope.ErrTokenUsed, http.StatusConflict, "recipient_already_finished"},
	{envelope.ErrAlreadySigned, http.StatusConflict, "recipient_already_signed"},
	{envelope.ErrAlreadyDeclined, http.StatusConflict, "recipient_already_declined"},
	{envelope.ErrTokenGone, http.StatusGone, "signing_link_expired"},
	{envelope.ErrEnvelopeCompleted, http.StatusGone, "envelope_completed"},
	{envelope.ErrEnvelopeDeclined, http.StatusGone, "envelope_declined"},
	{envelope.ErrEnvelopeVoided, http.StatusGone, "envelope_voided"},
	{envelope.ErrEnvelopeExpired, http.StatusGone, "envelope_expired"},
	{envelope.ErrLinkExpired, http.StatusGone, "signing_link_expired"},
	{envelope.ErrNotYourTurn, http.StatusConflict, "not_your_turn"},
	{envelope.ErrCannotSign, http.StatusConflict, "recipient_cannot_sign"},
	{envelope.ErrAuthRequired, http.StatusForbidden, "signer_authentication_failed"},
	{envelope.ErrOTPLocked, http.StatusTooManyRequests, "too_many_attempts"},
	{envelope.ErrRecipientNotFound, http.StatusNotFound, "recipient_not_found"},
	{envelope.ErrNoSigningLink, http.StatusConflict, "recipient_has_no_link"},

	{webhook.ErrNotFound, http.StatusNotFound, "webhook_not_found"},
	{webhook.ErrVersionMismatch, http.StatusPreconditionFailed, "precondition_failed"},
	{webhook.ErrEndpointDisabled, http.StatusConflict, "webhook_disabled"},

	{person.ErrPersonNotFound, http.StatusNotFound, "person_not_found"},
	{person.ErrCertificateNotFound, http.StatusNotFound, "certificate_not_found"},
	{person.ErrUniqueIDTaken, http.StatusConflict, "person_unique_id_taken"},
	{person.ErrEmailTaken, http.StatusConflict, "person_email_taken"},
	{person.ErrPersonConflict, http.StatusConflict, "person_conflict"},
	{person.ErrCertificateExists, http.StatusConflict, "certificate_exists"},
	{person.ErrCertificateRevoked, http.StatusConflict, "certificate_revoked"},
	{person.ErrCertificateExpired, http.StatusConflict, "certificate_expired"},
	{person.ErrVersionMismatch, http.StatusPreconditionFailed, "precondition_failed"},
	{person.ErrKeysUnavailable, http.StatusServiceUnavailable, "key_encryption_unavailable"},
	{person.ErrKeyringMismatch, http.StatusServiceUnavailable, "key_encryption_unavailable"},
	// The certificate portal (signex).
	{person.ErrBadCredentials, http.StatusUnauthorized, "invalid_credentials"},
	{person.ErrChallengeInvalid, http.StatusUnprocessableEntity, "link_challenge_invalid"},
	{person.ErrProofInvalid, http.StatusUnprocessableEntity, "link_proof_invalid"},
	{person.ErrGOSTUnsupported, http.StatusUnprocessableEntity, "gost_proof_unsupported"},
	{websession.ErrNoSession, http.StatusUnauthorized, "not_logged_in"},
	{websession.ErrXSRFMissing, http.StatusForbidden, "xsrf_token_missing"},
	{websession.ErrXSRFMismatch, http.StatusForbidden, "xsrf_token_mismatch"},
	// RemSig's signing batches and the keys they use.
	{batch.ErrNotFound, http.StatusNotFound, "batch_not_found"},
	{batch.ErrNotOpen, http.StatusConflict, "batch_not_open"},
	{batch.ErrNotAuthorizable, http.StatusConflict, "batch_not_authorizable"},
	{batch.ErrEmpty, http.StatusConflict, "batch_empty"},
	{batch.ErrTooManyTasks, http.StatusUnprocessableEntity, "batch_too_many_tasks"},
	{batch.ErrNotSigned, http.StatusConflict, "batch_not_signed"},
	{batch.ErrDataSource, http.StatusBadGateway, "data_source_failed"},
	{batch.ErrNoSuchServer, http.StatusNotFound, "timestamp_server_not_found"},
	{batch.ErrRelayFailed, http.StatusBadGateway, "timestamp_server_failed"},
	{person.ErrPINResetUnknown, http.StatusNotFound, "pin_reset_not_found"},
	{person.ErrPINResetExpired, http.StatusGone, "pin_reset_expired"},
	{person.ErrCertificateUnusable, http.StatusUnprocessableEntity, "certificate_unusable"},
	{person.ErrNoKey, http.StatusUnprocessableEntity, "certificate_without_key"},
	{person.ErrLocked, http.StatusLocked, "certificate_locked"},
	// RemSig's PostSignum certificate requests.
	{certrequest.ErrNotFound, http.StatusNotFound, "certificate_request_not_found"},
	{certrequest.ErrAlreadyApproved, http.StatusConflict, "certificate_request_approved"},
	{certrequest.ErrAlreadyDenied, http.StatusConflict, "certificate_request_denied"},
	{certrequest.ErrExpired, http.StatusConflict, "certificate_request_expired"},
	{certrequest.ErrFulfilment, http.StatusBadGateway, "certificate_authority_failed"},
	// Signers' identity providers.
	{envelope.ErrLoginUnknown, http.StatusBadRequest, "identity_login_unknown"},
	{idp.ErrUnknownProvider, http.StatusBadRequest, "identity_provider_unknown"},
	{idp.ErrUnavailable, http.StatusBadGateway, "identity_provider_unavailable"},
	{idp.ErrRejected, http.StatusForbidden, "signer_authentication_failed"},
}

// domainErrorFor finds the most specific entry of domainErrors that err
// wraps.
func domainErrorFor(err error) (domainError, bool) {
	var best domainError
	found := false
	for _, m := range domainErrors {
		if !errors.Is(err, m.target) {
			continue
		}
		if !found || errors.Is(m.target, best.target) {
			best, found = m, true
		}
	}
	return best, found
}
