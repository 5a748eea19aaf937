package mail

import (
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Dev is the mailer of `vellum dev`: it logs every message and keeps the
// latest ones for GET /dev/mail.
type Dev struct {
	log  *slog.Logger
	max  int
	mu   sync.Mutex
	msgs []Sent
}

// Sent is a message the dev mailer received.
type Sent struct {
	At time.Time `json:"at"`
	Message
}

// NewDev keeps up to max messages (200 when max ≤ 0).
func NewDev(log *slog.Logger, max int) *Dev {
	if max <= 0 {
		max = 200
	}
	if log == nil {
		log = slog.Default()
	}
	return &Dev{log: log, max: max}
}

// Send records m.
func (d *Dev) Send(_ context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	d.msgs = append(d.msgs, Sent{At: time.Now().UTC(), Message: m})
	if len(d.msgs) > d.max {
		d.msgs = d.msgs[len(d.msgs)-d.max:]
	}
	d.mu.Unlock()
	// The body stays out of the log: it carries signing links, which are
	// credentials. /dev/mail shows it.
	d.log.Info("mail (dev: not sent; read it at /dev/mail)", "tag", m.Tag, "to", m.To, "subject", m.Subject, "attachments", len(m.Attachments))
	return nil
}

// Messages returns the kept messages, oldest first.
func (d *Dev) Messages() []Sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Sent(nil), d.msgs...)
}

var devPage = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vellum dev mail</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:60rem;margin:auto">
<h1>Outgoing mail ({{len .}})</h1>
{{range .}}<article style="border:1px solid #ccc;margin:1rem 0;padding:1rem">
<p><strong>{{.Subject}}</strong><br>To: {{range .To}}{{.}} {{end}}<br>{{.At.Format "2006-01-02 15:04:05Z07:00"}} · {{.Tag}}{{if .Attachments}} · {{len .Attachments}} attachment(s){{end}}</p>
<pre style="white-space:pre-wrap">{{.Text}}</pre></article>{{end}}
</body></html>`))

// Handler serves the kept messages, newest first: JSON when asked for
// (Accept: application/json or ?format=json), otherwise an HTML page.
func (d *Dev) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msgs := d.Messages()
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
		type att struct {
			Filename    string `json:"filename"`
			ContentType string `json:"contentType"`
			Size        int    `json:"size"`
		}
		type view struct {
			At          time.Time `json:"at"`
			Tag         string    `json:"tag"`
			To          []string  `json:"to"`
			Subject     string    `json:"subject"`
			Text        string    `json:"text"`
			HTML        string    `json:"html"`
			Attachments []att     `json:"attachments"`
		}
		if r.URL.Query().Get("format") == "json" || r.Header.Get("Accept") == "application/json" {
			out := make([]view, 0, len(msgs))
			for _, m := range msgs {
				v := view{At: m.At, Tag: m.Tag, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Attachments: []att{}}
				for _, a := range m.Attachments {
					v.Attachments = append(v.Attachments, att{a.Filename, a.ContentType, len(a.Data)})
				}
				out = append(out, v)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": out})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = devPage.Execute(w, msgs)
	})
}
