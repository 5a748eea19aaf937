package envelope

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// The audit trail is the envelope's certificate of completion: who sent
// it, what each recipient saw, consented to and signed, with which
// certificate and at which proven time, how it ended, and the event log
// with its hash chain. It is rendered from the records and from the
// signatures in the documents themselves.

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// renderAuditTrail writes the audit-trail PDF of env (unsealed); final
// says whether it is the sealed trail of an ended envelope or an interim
// rendering.
func (s *Service) renderAuditTrail(ctx context.Context, env *Envelope, final bool) ([]byte, error) {
	chain, err := s.EventLog.Chain(ctx, env.ID)
	if err != nil {
		return nil, err
	}
	d := pdfreport.New("Audit trail "+env.ID, s.Fonts...)
	d.Title("Audit trail")
	if !final {
		d.Para("INTERIM REPORT: the envelope is not final; this report is not sealed and will be replaced by the sealed audit trail once the envelope ends.")
	}
	d.KV("Envelope", env.ID)
	d.KV("Subject", env.Subject)
	d.KV("Status", string(env.Status))
	d.KV("Environment", string(env.Environment))
	d.KV("Signing order", string(env.SigningOrder))
	if env.ExternalReference != "" {
		d.KV("External reference", env.ExternalReference)
	}
	d.KV("Created", fmtTime(&env.CreatedAt))
	d.KV("Sent", fmtTime(env.SentAt))
	switch env.Status {
	case StatusCompleted:
		d.KV("Completed", fmtTime(env.CompletedAt))
	case StatusDeclined:
		d.KV("Declined", fmtTime(env.DeclinedAt))
	case StatusVoided:
		d.KV("Voided", fmtTime(env.VoidedAt))
		d.KV("Void reason", env.VoidReason)
	case StatusExpired:
		d.KV("Expired", fmtTime(env.ExpiredAt))
	}

	s.auditSender(ctx, d, env, chain.Events)

	d.Heading("Documents")
	for i, doc := range env.Documents {
		d.KV(fmt.Sprintf("Document %d", i+1), doc.Filename+" ("+doc.DocumentID+")")
		d.KV("Pages", fmt.Sprint(doc.Pages))
		d.KVMono("SHA-256 original", doc.OriginalSHA256)
		label := "SHA-256 current"
		if env.Status == StatusCompleted {
			label = "SHA-256 final"
		}
		d.KVMono(label, doc.CurrentSHA256)
		d.Space(4)
	}

	consent := env.ConsentText()
	d.Heading("Consent text")
	d.Para(consent)
	d.KVMono("SHA-256", sha256Hex([]byte(consent)))

	d.Heading("Recipients")
	signed := eventsByRecipient(chain.Events, "recipient.signed")
	for _, r := range env.Recipients {
		d.KV(string(r.Role), r.Name+" <"+r.Email+">")
		d.KV("Routing order", fmt.Sprint(r.RoutingOrder))
		d.KV("Authentication", string(r.AuthMethod))
		if id := r.Identity; r.AuthMethod == AuthOIDC && id != nil {
			// Who the identity provider vouched for, as its ID token said.
			d.KV("Identity provider", id.Provider+" ("+id.Issuer+")")
			d.KV("Verified identity", strings.TrimSpace(id.Name+" subject "+id.Subject))
			if id.NationalID != "" {
				d.KV("National ID", id.NationalID)
			}
		}
		d.KV("Status", string(r.Status))
		d.KV("Invited", fmtTime(r.NotifiedAt))
		d.KV("Viewed", fmtTime(r.ViewedAt))
		d.KV("Signed", fmtTime(r.SignedAt))
		if r.DeclinedAt != nil {
			d.KV("Declined", fmtTime(r.DeclinedAt))
			d.KV("Decline reason", r.DeclineReason)
		}
		if e, ok := signed[r.ID]; ok {
			d.KV("Consent", consentRecord(e, consent))
		}
		if r.IP != "" {
			d.KV("IP address", r.IP)
			d.KV("User agent", r.UserAgent)
		}
		if r.CertificateSerial != "" {
			d.KV("Certificate serial", r.CertificateSerial)
		}
		switch r.SignatureType {
		case "typed":
			d.KV("Signature (typed)", r.SignatureText)
		case "drawn":
			d.KV("Signature (drawn)", "")
			if err := d.Image(r.SignatureImage, 130, 160, 60); err != nil {
				d.KV("", "(image unreadable)")
			}
		case "approval":
			d.KV("Approval", "approved")
		}
		d.Rule()
	}

	s.auditSignatures(ctx, d, env)
	auditEnding(d, env)
	auditChain(d, env.ID, chain)

	d.Heading("Platform seal")
	if s.PKI != nil {
		seal := s.PKI.Seal()
		certificateDetails(d, seal.Cert)
		d.Para("This report is sealed with the certificate above when the envelope ends; the seal covers every byte of it.")
	}
	d.Para("Generated " + s.now().Format("2006-01-02 15:04:05 UTC") + " by Vellum.")
	return d.Bytes()
}

// auditSender names who created and sent the envelope: the account and the
// API key (name, prefix and id) or other actor, with the address it came from.
func (s *Service) auditSender(ctx context.Context, d *pdfreport.Doc, env *Envelope, events []audit.Event) {
	d.Heading("Sender")
	acct := env.AccountID
	if s.Accounts != nil {
		if a, err := s.Accounts.GetAccount(ctx, env.AccountID); err == nil {
			acct = a.Name + " (" + a.ID + ")"
			if a.Email != "" {
				acct = a.Name + " <" + a.Email + "> (" + a.ID + ")"
			}
		}
	}
	d.KV("Account", acct)
	for _, e := range events {
		var label string
		switch e.Type {
		case "envelope.created":
			label = "Created by"
		case "envelope.sent":
			label = "Sent by"
		default:
			continue
		}
		d.KV(label, s.actorName(ctx, e.Actor))
		d.KV("at", fmtTime(&e.At))
		if e.IP != "" {
			d.KV("from", e.IP+", "+e.UserAgent)
		}
	}
}

// actorName spells out an event's actor: "api:<key id>" becomes the key's
// name, prefix and environment.
func (s *Service) actorName(ctx context.Context, actor string) string {
	id, ok := strings.CutPrefix(actor, "api:")
	if !ok || s.Accounts == nil {
		return actor
	}
	k, err := s.Accounts.GetKey(ctx, id)
	if err != nil {
		return "API key " + id
	}
	out := fmt.Sprintf("API key %q (%s…, %s, id %s)", k.Name, k.Prefix, k.Environment, k.ID)
	if k.RevokedAt != nil {
		out += ", revoked " + fmtTime(k.RevokedAt)
	}
	return out
}

func eventsByRecipient(events []audit.Event, typ string) map[string]audit.Event {
	out := map[string]audit.Event{}
	for _, e := range events {
		if e.Type == typ && e.RecipientID != "" {
			out[e.RecipientID] = e
		}
	}
	return out
}

// consentRecord says when the recipient accepted the consent text and
// whether the text recorded then is the one printed here.
func consentRecord(e audit.Event, consent string) string {
	rec := "accepted the consent text at " + fmtTime(&e.At) + " (event #" + fmt.Sprint(e.Seq) + ")"
	switch h := e.Details["consentTextSha256"]; {
	case h == "":
		return rec + "; the text's hash was not recorded"
	case h == sha256Hex([]byte(consent)):
		return rec + "; the recorded SHA-256 matches the text above"
	default:
		return rec + "; the recorded SHA-256 " + h + " DIFFERS from the text above"
	}
}

// auditSignatures lists, document by document, every signature and
// document timestamp in the current revision with its certificate.
func (s *Service) auditSignatures(ctx context.Context, d *pdfreport.Doc, env *Envelope) {
	d.Heading("Signatures and certificates")
	names := map[string]string{}
	for _, r := range env.Recipients {
		names[r.ID] = r.Name
	}
	for _, doc := range env.Documents {
		d.KV("Document", doc.Filename+" ("+doc.DocumentID+")")
		reps, err := s.readSignatures(ctx, doc.CurrentBlobKey)
		if err != nil {
			d.KV("", "signatures could not be read: "+err.Error())
			continue
		}
		if len(reps) == 0 {
			d.KV("", "no signatures yet")
		}
		for i, sig := range reps {
			label := fmt.Sprintf("Signature %d", i+1)
			who := sig.Name // the certificate's name where there is one
			if sig.Signer != nil {
				who = sig.Signer.Name
			}
			if sig.DocumentTimestamp {
				label, who = fmt.Sprintf("Timestamp %d", i+1), "document timestamp (PAdES B-LTA)"
			} else if rid := recipientOfField(sig.FieldName); names[rid] != "" {
				who = names[rid]
			}
			d.KV(label, who+" — field "+sig.FieldName)
			if !sig.SigningTime.IsZero() {
				d.KV("Signing time", fmtTime(&sig.SigningTime))
			}
			switch {
			case !sig.TimestampTime.IsZero() && sig.DocumentTimestamp:
				d.KV("Proven time", fmtTime(&sig.TimestampTime)+" (time-stamp token)")
			case !sig.TimestampTime.IsZero():
				d.KV("Timestamp", fmtTime(&sig.TimestampTime)+" (signature time-stamp)")
			default:
				d.KV("Timestamp", "none in the signature")
			}
			if sig.Certificate != nil {
				certificateDetails(d, sig.Certificate)
			}
			d.Space(3)
		}
		d.Rule()
	}
}

// recipientOfField reads the recipient id out of the field names
// signDocuments gives: "Signature-<recipient id>-<n>".
func recipientOfField(field string) string {
	rest, ok := strings.CutPrefix(field, "Signature-")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		return rest[:i]
	}
	return ""
}

// readSignatures reads the signatures of the PDF stored under key.
func (s *Service) readSignatures(ctx context.Context, key string) ([]pades.SignatureReport, error) {
	f, size, err := s.spool(ctx, key)
	if err != nil {
		return nil, err
	}
	defer removeTemp(f)
	rep, err := pades.Verify(f, size, pades.VerifyOptions{SkipTrust: true}) // which signatures, not whether trusted
	if err != nil {
		return nil, err
	}
	return rep.Signatures, nil
}

// certificateDetails prints what identifies a certificate: subject,
// issuer, serial number as encoded (leading zero bytes kept), validity.
func certificateDetails(d *pdfreport.Doc, c *x509.Certificate) {
	d.KV("Subject", distinguishedName(c.Subject))
	d.KV("Issuer", distinguishedName(c.Issuer))
	d.KVMono("Serial number", serialHex(c))
	d.KV("Valid", fmtTime(&c.NotBefore)+" to "+fmtTime(&c.NotAfter))
}

// attributeNames spells the attribute types of certificate names that Go's
// pkix.Name.String leaves as dotted numbers (the e-mail address, for one).
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.42": "GN", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// distinguishedName writes a name's attributes in the order the
// certificate has them, readable: "CN=Jana Nováková, emailAddress=…".
func distinguishedName(n pkix.Name) string {
	parts := make([]string, 0, len(n.Names))
	for _, a := range n.Names {
		t := a.Type.String()
		if name, ok := attributeNames[t]; ok {
			t = name
		}
		parts = append(parts, fmt.Sprintf("%s=%v", t, a.Value))
	}
	if len(parts) == 0 {
		return n.String()
	}
	return strings.Join(parts, ", ")
}

// serialHex is the certificate's serial number as its DER INTEGER content,
// in hex byte pairs: a leading 00 (a positive serial with its top bit set)
// stays, as OpenSSL and Adobe print it.
func serialHex(c *x509.Certificate) string {
	raw := c.SerialNumber.Bytes()
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(c.RawTBSCertificate, &tbs); err == nil {
		rest := tbs.Bytes
		for i := 0; i < 2 && len(rest) > 0; i++ { // [0] version, then the serial
			var v asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &v); err != nil {
				break
			}
			if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagInteger {
				raw = v.Bytes
				break
			}
		}
	}
	parts := make([]string, len(raw))
	for i, b := range raw {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// auditEnding states how the envelope ended.
func auditEnding(d *pdfreport.Doc, env *Envelope) {
	d.Heading("Completion")
	switch env.Status {
	case StatusCompleted:
		n := 0
		for _, r := range env.Recipients {
			if r.Role.Acts() {
				n++
			}
		}
		d.Para(fmt.Sprintf("The envelope was completed at %s: all %d signers and approvers acted, and every document "+
			"was extended to PAdES B-LTA (validation data and a document timestamp). The completion event "+
			"(envelope.completed) is appended to the event log below as this audit trail is stored.", fmtTime(env.CompletedAt), n))
	case StatusDeclined:
		d.Para("The envelope was declined at " + fmtTime(env.DeclinedAt) + " and ended for every recipient.")
	case StatusVoided:
		d.Para("The envelope was voided at " + fmtTime(env.VoidedAt) + ": " + env.VoidReason)
	case StatusExpired:
		d.Para("The envelope expired at " + fmtTime(env.ExpiredAt) + " before every signer had acted.")
	default:
		d.Para("The envelope has not ended.")
	}
}

// auditChain prints the event log with its hash chain and its verdict.
func auditChain(d *pdfreport.Doc, envelopeID string, c *audit.Chain) {
	d.Heading("Event log (SHA-256 hash chain)")
	verdict := "verified: it starts from the envelope's genesis hash, every event hashes to the next event's previous hash, and it ends at the recorded head"
	if c.Broken != nil {
		verdict = "BROKEN: " + c.Broken.Error()
	}
	how := "Each hash is SHA-256 over the previous hash and the event's canonical JSON, which includes the envelope id; " +
		"the first event's previous hash is SHA-256 of \"vellum audit chain v2\", a zero byte and the envelope id."
	if c.Head != nil && c.Head.Version == audit.V1 {
		how = "Each hash is SHA-256 over the previous hash and the event's canonical JSON (version 1 chain, begun before chains covered the envelope id)."
	}
	d.Para("Chain " + verdict + ". " + how)
	if c.Head == nil || c.Head.Version != audit.V1 {
		d.KVMono("Genesis", audit.Genesis(envelopeID))
	}
	for _, e := range c.Events {
		line := fmt.Sprintf("#%d  %s  %s  by %s", e.Seq, e.At.UTC().Format("2006-01-02 15:04:05.000Z"), e.Type, e.Actor)
		if e.IP != "" {
			line += "  from " + e.IP
		}
		d.Para(line)
		if serial := e.Details["certificateSerial"]; serial != "" {
			d.Mono("certificate serial "+serial, 12)
		}
		if r := e.Details["reason"]; r != "" {
			d.Mono("reason: "+r, 12)
		}
		for _, h := range e.DocumentHashes {
			d.Mono(h.DocumentID+" "+h.SHA256, 12)
		}
		d.Mono("hash "+e.Hash, 12)
	}
	if c.Head != nil {
		d.KVMono("Head", fmt.Sprintf("event #%d %s", c.Head.Seq, c.Head.Hash))
	}
}
