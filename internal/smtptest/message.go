package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is one message accepted by the server: its envelope, its raw
// data, and the result of parsing that data. Treat it as read-only.
type Message struct {
	From string   // envelope sender (MAIL FROM)
	To   []string // envelope recipients (RCPT TO)
	Data []byte   // the message as received after DATA
	User string   // user name given to AUTH, "" if the client did not authenticate
	TLS  bool     // whether the message came over TLS (implicit or STARTTLS)

	Header  mail.Header // header fields of Data
	Subject string      // Subject header with RFC 2047 encoded-words decoded
	Text    string      // first text/plain body, transfer-decoded, "\n" line ends
	HTML    string      // first text/html body, transfer-decoded, "\n" line ends

	// ParseErr is the error met parsing Data, if any; the fields above are
	// then incomplete.
	ParseErr error
}

// FindLink returns the first URL in the text body that starts with prefix,
// up to the next whitespace or angle bracket, with trailing sentence
// punctuation removed. It returns "" if there is none.
func (m Message) FindLink(prefix string) string {
	if prefix == "" {
		return ""
	}
	i := strings.Index(m.Text, prefix)
	if i < 0 {
		return ""
	}
	link := m.Text[i:]
	if j := strings.IndexAny(link, " \t\r\n<>\""); j >= 0 {
		link = link[:j]
	}
	return strings.TrimRight(link, ".,;:!?)'")
}

func newMessage(from string, to []string, data []byte) Message {
	m := Message{From: from, To: to, Data: data}
	m.ParseErr = m.parse()
	return m
}

func (m *Message) parse() error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	m.Header = msg.Header
	m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return fmt.Errorf("decode subject: %w", err)
	}
	return m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

// walk records the text and HTML bodies found in a part with the given
// Content-Type and Content-Transfer-Encoding, descending into multiparts.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("parse Content-Type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart leaves the transfer encoding to us, so that
			// quoted-printable and base64 are handled alike.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s part: %w", mediaType, err)
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}

	var dst *string
	switch {
	case mediaType == "text/plain" && m.Text == "":
		dst = &m.Text
	case mediaType == "text/html" && m.HTML == "":
		dst = &m.HTML
	default:
		return nil
	}
	b, err := io.ReadAll(decode(encoding, body))
	if err != nil {
		return fmt.Errorf("decode %s body (%s): %w", mediaType, encoding, err)
	}
	*dst = strings.ReplaceAll(string(b), "\r\n", "\n")
	return nil
}

// decode undoes a Content-Transfer-Encoding.
func decode(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // skips CR and LF
	default: // 7bit, 8bit, binary
		return r
	}
}
