package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// Subjects of the template messages. They are fixed: nothing a user types
// ends up in a header.
const (
	SubjectVerifyEmail     = "Confirm your email address"
	SubjectResetPassword   = "Reset your password"
	SubjectAccountExists   = "Someone tried to sign up with your email address"
	SubjectPasswordChanged = "Your password was changed"
	SubjectMagicLink       = "Your sign-in link"
	SubjectConfirmEmail    = "Confirm your new email address"
	SubjectEmailChangeAsk  = "A change of your email address was requested"
	SubjectEmailChanged    = "Your email address was changed"
	SubjectEmailInUse      = "Someone tried to move an account to your email address"
	SubjectMFAReset        = "Two-factor authentication was turned off"
)

// maxNameRunes caps how much of a user's name is shown in a greeting.
const maxNameRunes = 64

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	verifyEmailTemplate     = mustParse("verify_email")
	resetPasswordTemplate   = mustParse("reset_password")
	accountExistsTemplate   = mustParse("account_exists")
	passwordChangedTemplate = mustParse("password_changed")
	mfaResetTemplate        = mustParse("mfa_reset")
	magicLinkTemplate       = mustParse("magic_link")
	confirmEmailTemplate    = mustParse("confirm_email_change")
	emailChangeAskTemplate  = mustParse("email_change_requested")
	emailChangedTemplate    = mustParse("email_changed")
	emailInUseTemplate      = mustParse("email_in_use")
)

// msgTemplate is one message's text and HTML bodies. Each is a "body"
// definition executed through the matching "layout".
type msgTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func mustParse(name string) msgTemplate {
	return msgTemplate{
		text: texttemplate.Must(texttemplate.ParseFS(templateFS,
			"templates/layout.txt.tmpl", "templates/"+name+".txt.tmpl")),
		html: htmltemplate.Must(htmltemplate.ParseFS(templateFS,
			"templates/layout.html.tmpl", "templates/"+name+".html.tmpl")),
	}
}

// templateData is what the templates see.
type templateData struct {
	Subject string
	Name    string // display name, sanitized
	Link    string
	Expires string // e.g. "24 hours"
	Email   string // another address the message is about (an email change's new one)
}

// render executes t for to. The HTML body is autoescaped; the text body
// is not, which is safe as it is only ever a text/plain part.
func (t msgTemplate) render(to string, data templateData) (Message, error) {
	if err := checkRecipient(to); err != nil {
		return Message{}, err
	}
	var text, html strings.Builder
	if err := t.text.ExecuteTemplate(&text, "layout", data); err != nil {
		return Message{}, fmt.Errorf("mail: text template: %w", err)
	}
	if err := t.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("mail: html template: %w", err)
	}
	return Message{To: to, Subject: data.Subject, Text: text.String(), HTML: html.String()}, nil
}

// VerifyEmail returns the message asking the owner of to, greeted as
// name, to confirm the address by opening link, which expires after
// expires. link is an absolute http(s) URL, typically
// {BASE_URL}/verify-email?token=TOKEN; it is shown verbatim.
func VerifyEmail(to, name, link string, expires time.Duration) (Message, error) {
	if err := checkLink(link); err != nil {
		return Message{}, err
	}
	if err := checkExpiry(expires); err != nil {
		return Message{}, err
	}
	return verifyEmailTemplate.render(to, templateData{
		Subject: SubjectVerifyEmail,
		Name:    displayName(name),
		Link:    link,
		Expires: humanDuration(expires),
	})
}

// ResetPassword returns the message carrying link, an absolute http(s) URL
// to the page where the owner of to sets a new password; it expires after
// expires.
func ResetPassword(to, link string, expires time.Duration) (Message, error) {
	if err := checkLink(link); err != nil {
		return Message{}, err
	}
	if err := checkExpiry(expires); err != nil {
		return Message{}, err
	}
	return resetPasswordTemplate.render(to, templateData{
		Subject: SubjectResetPassword,
		Link:    link,
		Expires: humanDuration(expires),
	})
}

// AccountExists returns the notice sent to the owner of to when someone
// tries to sign up with that address although it has an account. It
// points to resetLink, the {BASE_URL}/reset-password page (no token), in
// case the owner forgot their password.
func AccountExists(to, resetLink string) (Message, error) {
	if err := checkLink(resetLink); err != nil {
		return Message{}, err
	}
	return accountExistsTemplate.render(to, templateData{
		Subject: SubjectAccountExists,
		Link:    resetLink,
	})
}

// PasswordChanged returns the notice telling the owner of to that their
// password was changed.
func PasswordChanged(to string) (Message, error) {
	return passwordChangedTemplate.render(to, templateData{Subject: SubjectPasswordChanged})
}

// MFAReset returns the notice telling the owner of to that an
// administrator turned their two-factor authentication off.
func MFAReset(to string) (Message, error) {
	return mfaResetTemplate.render(to, templateData{Subject: SubjectMFAReset})
}

// MagicLink returns the message carrying link, an absolute http(s) URL
// ({BASE_URL}/magic-link?token=TOKEN) that signs the owner of to in once;
// it expires after expires.
func MagicLink(to, link string, expires time.Duration) (Message, error) {
	if err := checkLink(link); err != nil {
		return Message{}, err
	}
	if err := checkExpiry(expires); err != nil {
		return Message{}, err
	}
	return magicLinkTemplate.render(to, templateData{
		Subject: SubjectMagicLink,
		Link:    link,
		Expires: humanDuration(expires),
	})
}

// ConfirmEmailChange returns the message asking the owner of to, the new
// address of the account of name, to confirm it by opening link
// ({BASE_URL}/confirm-email?token=TOKEN), which expires after expires.
func ConfirmEmailChange(to, name, link string, expires time.Duration) (Message, error) {
	if err := checkLink(link); err != nil {
		return Message{}, err
	}
	if err := checkExpiry(expires); err != nil {
		return Message{}, err
	}
	return confirmEmailTemplate.render(to, templateData{
		Subject: SubjectConfirmEmail,
		Name:    displayName(name),
		Link:    link,
		Expires: humanDuration(expires),
	})
}

// EmailChangeRequested returns the notice telling the owner of to, an
// account's current address, that a change to newEmail was asked for.
func EmailChangeRequested(to, newEmail string) (Message, error) {
	if err := checkRecipient(newEmail); err != nil {
		return Message{}, err
	}
	return emailChangeAskTemplate.render(to, templateData{Subject: SubjectEmailChangeAsk, Email: newEmail})
}

// EmailChanged returns the notice telling the owner of to, an account's
// former address, that the account's address is now newEmail.
func EmailChanged(to, newEmail string) (Message, error) {
	if err := checkRecipient(newEmail); err != nil {
		return Message{}, err
	}
	return emailChangedTemplate.render(to, templateData{Subject: SubjectEmailChanged, Email: newEmail})
}

// EmailInUse returns the notice sent to the owner of to when another
// account asks to move to that address although it has an account. It
// points to resetLink, the {BASE_URL}/reset-password page (no token).
func EmailInUse(to, resetLink string) (Message, error) {
	if err := checkLink(resetLink); err != nil {
		return Message{}, err
	}
	return emailInUseTemplate.render(to, templateData{Subject: SubjectEmailInUse, Link: resetLink})
}

// checkLink accepts absolute http and https URLs without spaces or control
// characters, so that the link shows unbroken in the text body.
func checkLink(link string) error {
	// Errors leave out the link: it may hold a token.
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("mail: link is not an absolute http(s) URL")
	}
	if strings.ContainsFunc(link, unicode.IsSpace) {
		return errors.New("mail: link contains spaces")
	}
	return nil
}

// checkExpiry accepts any lifetime humanDuration can state: a second or
// more.
func checkExpiry(d time.Duration) error {
	if d < time.Second {
		return errors.New("mail: link expiry must be at least a second")
	}
	return nil
}

// displayName makes a user-supplied name fit for a one-line greeting: it
// drops control and bidirectional-override characters, collapses runs of
// space, and cuts it to maxNameRunes. An empty result becomes "there".
func displayName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), r == utf8.RuneError:
			return -1
		}
		return r
	}, name)
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return "there"
	}
	if r := []rune(name); len(r) > maxNameRunes {
		name = strings.TrimSpace(string(r[:maxNameRunes])) + "…"
	}
	return name
}

// humanDuration writes d, which is at least a second, in words: "5
// seconds", "1 minute", "15 minutes", "24 hours", "2 days". A whole
// number of days from two days up is said in days; otherwise d is said
// in its largest unit and, when it is not a whole number of that unit,
// the next one: "1 minute and 30 seconds", "1 hour and 30 minutes",
// "49 hours". Anything smaller is dropped, so d is rounded down: the
// email never promises more time than the link has.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 2*day && d%day == 0 {
		return plural(int(d/day), "day")
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0 && m == 0:
		return plural(h, "hour")
	case h > 0:
		return plural(h, "hour") + " and " + plural(m, "minute")
	case m > 0 && s == 0:
		return plural(m, "minute")
	case m > 0:
		return plural(m, "minute") + " and " + plural(s, "second")
	}
	return plural(s, "second")
}

func plural(n int, unit string) string {
	s := strconv.Itoa(n) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
