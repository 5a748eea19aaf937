// Package mailtest runs a real SMTP server in-process (github.com/emersion/
// go-smtp) that keeps every message it receives, for tests of code that
// sends mail over SMTP.
package mailtest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received message.
type Message struct {
	From    string
	To      []string
	Raw     []byte
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts.
	Text, HTML string
	// Attachments maps filenames to decoded bytes.
	Attachments map[string][]byte
}

// Server is an in-process SMTP server.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	cond chan struct{}
}

// Start listens on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, cond: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 64 << 20
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Host and Port are where to send.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns every message received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the first message matching ok, waiting up to timeout.
func (s *Server) Wait(timeout time.Duration, ok func(Message) bool) (Message, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if ok(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		c := s.cond
		s.mu.Unlock()
		select {
		case <-c:
		case <-deadline:
			return Message{}, errors.New("mailtest: no matching message before the timeout")
		}
	}
}

// To matches messages addressed to addr whose subject contains subject.
func To(addr, subject string) func(Message) bool {
	return func(m Message) bool {
		for _, t := range m.To {
			if strings.EqualFold(t, addr) && strings.Contains(m.Subject, subject) {
				return true
			}
		}
		return false
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.cond)
	s.cond = make(chan struct{})
	s.mu.Unlock()
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: x.from, To: x.to, Raw: raw, Attachments: map[string][]byte{}}
	if pm, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(pm.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		walk(&m, pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), "", pm.Body)
	}
	x.s.add(m)
	return nil
}

// walk decodes a MIME entity into m.
func walk(m *Message, ctype, cte, disposition string, body io.Reader) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
		}
	}
	data, _ := io.ReadAll(decoder(cte, body))
	_, dparams, _ := mime.ParseMediaType(disposition)
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case name != "":
		m.Attachments[name] = data
	case mt == "text/plain":
		m.Text += string(data)
	case mt == "text/html":
		m.HTML += string(data)
	}
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(cte) {
	case "base64":
		return base64Reader(r)
	case "quoted-printable":
		return quotedPrintable(r)
	}
	return r
}
