package rfc3161

import (
	"encoding/asn1"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Status is a PKIStatus value (RFC 3161 §2.4.2).
type Status int

// PKIStatus values.
const (
	StatusGranted                Status = 0
	StatusGrantedWithMods        Status = 1
	StatusRejection              Status = 2
	StatusWaiting                Status = 3
	StatusRevocationWarning      Status = 4
	StatusRevocationNotification Status = 5
)

func (s Status) String() string {
	switch s {
	case StatusGranted:
		return "granted"
	case StatusGrantedWithMods:
		return "grantedWithMods"
	case StatusRejection:
		return "rejection"
	case StatusWaiting:
		return "waiting"
	case StatusRevocationWarning:
		return "revocationWarning"
	case StatusRevocationNotification:
		return "revocationNotification"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// FailureInfo is a bit position of PKIFailureInfo (RFC 3161 §2.4.2).
type FailureInfo int

// PKIFailureInfo bits.
const (
	FailBadAlg              FailureInfo = 0
	FailBadRequest          FailureInfo = 2
	FailBadDataFormat       FailureInfo = 5
	FailTimeNotAvailable    FailureInfo = 14
	FailUnacceptedPolicy    FailureInfo = 15
	FailUnacceptedExtension FailureInfo = 16
	FailAddInfoNotAvailable FailureInfo = 17
	FailSystemFailure       FailureInfo = 25
)

var failureNames = map[FailureInfo]string{
	FailBadAlg: "badAlg", FailBadRequest: "badRequest", FailBadDataFormat: "badDataFormat",
	FailTimeNotAvailable: "timeNotAvailable", FailUnacceptedPolicy: "unacceptedPolicy",
	FailUnacceptedExtension: "unacceptedExtension", FailAddInfoNotAvailable: "addInfoNotAvailable",
	FailSystemFailure: "systemFailure",
}

func (f FailureInfo) String() string {
	if n, ok := failureNames[f]; ok {
		return n
	}
	return fmt.Sprintf("failure(%d)", int(f))
}

// Response is a TimeStampResp.
type Response struct {
	Status     Status
	StatusText []string
	Failures   []FailureInfo // bits set in failInfo
	Token      []byte        // DER ContentInfo; present when granted
}

// Err describes a non-granted response as an error wrapping ErrRejected,
// or returns nil when the response grants a token.
func (r *Response) Err() error {
	if r.Status == StatusGranted || r.Status == StatusGrantedWithMods {
		return nil
	}
	msg := r.Status.String()
	for _, f := range r.Failures {
		msg += " " + f.String()
	}
	if len(r.StatusText) > 0 {
		msg += ": " + strings.Join(r.StatusText, "; ")
	}
	return fmt.Errorf("%w: %s", ErrRejected, msg)
}

// ParseResponse decodes a DER TimeStampResp. A granted response without a
// token is malformed; the token itself is not parsed here (see ParseToken).
func ParseResponse(der []byte) (*Response, error) {
	input := cryptobyte.String(der)
	var s, status cryptobyte.String
	if !input.ReadASN1(&s, cbasn1.SEQUENCE) || !input.Empty() || !s.ReadASN1(&status, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: time-stamp response is not a TimeStampResp", ErrMalformed)
	}
	resp := &Response{}
	var st int64
	if !status.ReadASN1Integer(&st) || st < 0 || st > 5 {
		return nil, fmt.Errorf("%w: response status", ErrMalformed)
	}
	resp.Status = Status(st)
	if status.PeekASN1Tag(cbasn1.SEQUENCE) {
		var texts cryptobyte.String
		status.ReadASN1(&texts, cbasn1.SEQUENCE)
		for !texts.Empty() {
			var t []byte
			if !texts.ReadASN1Bytes(&t, cbasn1.UTF8String) {
				return nil, fmt.Errorf("%w: response status text", ErrMalformed)
			}
			resp.StatusText = append(resp.StatusText, string(t))
		}
	}
	if status.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bits asn1.BitString
		if !status.ReadASN1BitString(&bits) {
			return nil, fmt.Errorf("%w: response failInfo", ErrMalformed)
		}
		for i := 0; i < bits.BitLength; i++ {
			if bits.At(i) == 1 {
				resp.Failures = append(resp.Failures, FailureInfo(i))
			}
		}
	}
	if !status.Empty() {
		return nil, fmt.Errorf("%w: trailing data in response status", ErrMalformed)
	}
	if !s.Empty() {
		var tok cryptobyte.String
		if !s.ReadASN1Element(&tok, cbasn1.SEQUENCE) || !s.Empty() {
			return nil, fmt.Errorf("%w: response token", ErrMalformed)
		}
		resp.Token = tok
	}
	if resp.Err() == nil && resp.Token == nil {
		return nil, fmt.Errorf("%w: granted response without a token", ErrMalformed)
	}
	return resp, nil
}

// Marshal encodes the response as DER.
func (r *Response) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(r.Status))
			if len(r.StatusText) > 0 {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, t := range r.StatusText {
						b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(t)) })
					}
				})
			}
			if len(r.Failures) > 0 {
				addNamedBits(b, r.Failures)
			}
		})
		if r.Token != nil {
			b.AddBytes(r.Token)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("marshal time-stamp response: %w", err)
	}
	return der, nil
}

// addNamedBits writes a DER named BIT STRING: trailing zero bits dropped.
func addNamedBits(b *cryptobyte.Builder, bits []FailureInfo) {
	top := 0
	for _, f := range bits {
		top = max(top, int(f))
	}
	data := make([]byte, top/8+1)
	for _, f := range bits {
		if f >= 0 {
			data[f/8] |= 0x80 >> (f % 8)
		}
	}
	unused := 7 - top%8
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(uint8(unused))
		b.AddBytes(data)
	})
}
