package pades

import "fmt"

// Code classifies why a document cannot be signed, with RemSig's numeric
// codes so API layers can report them unchanged.
type Code int

// RemSig's document validation codes.
const (
	CodeEncrypted               Code = 1
	CodeInteractiveField        Code = 2
	CodeReadOnly                Code = 3
	CodeUnmodifiable            Code = 4
	CodeLocked                  Code = 5
	CodeSigningError            Code = 6
	CodeVisibleWatermarkOverlap Code = 7
	CodeUnknownError            Code = 8
)

var codeNames = map[Code]string{
	CodeEncrypted:               "ENCRYPTED",
	CodeInteractiveField:        "INTERACTIVE_FIELD",
	CodeReadOnly:                "READ_ONLY",
	CodeUnmodifiable:            "UNMODIFIABLE",
	CodeLocked:                  "LOCKED",
	CodeSigningError:            "SIGNING_ERROR",
	CodeVisibleWatermarkOverlap: "VISIBLE_WATERMARK_OVERLAP",
	CodeUnknownError:            "UNKNOWN_ERROR",
}

// String returns RemSig's name for the code, e.g. "ENCRYPTED".
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Error is a refusal or failure carrying a RemSig code. Test for a kind with
// errors.Is(err, &pades.Error{Code: pades.CodeEncrypted}) or errors.As.
type Error struct {
	Code Code
	Msg  string
	Err  error // underlying cause, may be nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("pades: %s: %s", e.Code, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors for errors.Is.
var (
	ErrEncrypted = &Error{Code: CodeEncrypted, Msg: "document is encrypted"}
	ErrLocked    = &Error{Code: CodeLocked, Msg: "document is locked and cannot be modified or signed"}
)

func codeErr(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...), Err: err}
}
