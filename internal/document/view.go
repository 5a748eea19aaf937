package document

import "time"

// View is a document's public JSON: what the API returns and what
// document.* webhook events carry, built in one place so the two never
// differ.
type View struct {
	ID          string         `json:"id"`
	Filename    string         `json:"filename"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	MimeType    string         `json:"mimeType"`
	Size        int64          `json:"size"`
	SHA256      string         `json:"sha256"`
	Pages       int            `json:"pages"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
	Validation  ValidationView `json:"validation"`
	// SignatureFields are the document's signature form fields, which
	// envelope fields can fill by fieldName.
	SignatureFields []SignatureFieldView `json:"signatureFields"`
}

// SignatureFieldView is one signature form field of a View, its rectangle
// in PDF points from the page's lower-left corner.
type SignatureFieldView struct {
	Name   string  `json:"name"`
	Page   int     `json:"page"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Signed bool    `json:"signed"`
}

// ValidationView is the pre-validation report of a View.
type ValidationView struct {
	Signable bool        `json:"signable"`
	Errors   []IssueView `json:"errors"`
	Warnings []IssueView `json:"warnings"`
}

// IssueView is one finding of the report, with RemSig's code and name.
type IssueView struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// View returns the document's public JSON.
func (d *Document) View() View {
	return View{
		ID: d.ID, Filename: d.Filename, Title: d.Title, Description: d.Description, MimeType: d.MimeType,
		Size: d.Size, SHA256: d.SHA256, Pages: d.Pages, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Validation: ValidationView{
			Signable: d.Validation.Signable,
			Errors:   issueViews(d.Validation.Errors),
			Warnings: issueViews(d.Validation.Warnings),
		},
		SignatureFields: signatureFieldViews(d.SignatureFields),
	}
}

func signatureFieldViews(in []SignatureField) []SignatureFieldView {
	out := make([]SignatureFieldView, 0, len(in))
	for _, f := range in {
		out = append(out, SignatureFieldView{Name: f.Name, Page: f.Page, X: f.Rect.X, Y: f.Rect.Y,
			Width: f.Rect.Width, Height: f.Rect.Height, Signed: f.Signed})
	}
	return out
}

func issueViews(in []Issue) []IssueView {
	out := make([]IssueView, 0, len(in))
	for _, i := range in {
		out = append(out, IssueView{Code: int(i.Code), Name: i.Code.String(), Message: i.Message})
	}
	return out
}
