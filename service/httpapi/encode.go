package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nextsecure/nextsecure/service"
)

// maxBody is the largest request body accepted (API.md: 64 KiB).
const maxBody = 64 << 10

// Codes of the HTTP layer's own errors, beside the service's.
const (
	codeInvalidJSON      service.Code = "invalid_json"
	codeUnsupportedMedia service.Code = "unsupported_media_type"
	codeBodyTooLarge     service.Code = "body_too_large"
)

// statusOf maps each error code to its HTTP status.
var statusOf = map[service.Code]int{
	codeInvalidJSON:             http.StatusBadRequest,
	codeUnsupportedMedia:        http.StatusUnsupportedMediaType,
	codeBodyTooLarge:            http.StatusRequestEntityTooLarge,
	service.CodeValidation:      http.StatusUnprocessableEntity,
	service.CodeInvalidToken:    http.StatusBadRequest,
	service.CodeInvalidCreds:    http.StatusUnauthorized,
	service.CodeInvalidCode:     http.StatusUnauthorized,
	service.CodeAccountDisabled: http.StatusForbidden,
	service.CodeUnauthenticated: http.StatusUnauthorized,
	service.CodeForbidden:       http.StatusForbidden,
	service.CodeNotFound:        http.StatusNotFound,
	service.CodeConflict:        http.StatusConflict,
	service.CodeLastLoginMethod: http.StatusConflict,
	service.CodeRateLimited:     http.StatusTooManyRequests,
	service.CodeUnavailable:     http.StatusServiceUnavailable,
	service.CodeInternal:        http.StatusInternalServerError,
}

// titles are the fixed problem titles, one per code.
var titles = map[service.Code]string{
	codeInvalidJSON:             "Malformed request body",
	codeUnsupportedMedia:        "Unsupported media type",
	codeBodyTooLarge:            "Request body too large",
	service.CodeValidation:      "Validation failed",
	service.CodeInvalidToken:    "Invalid or expired token",
	service.CodeInvalidCreds:    "Invalid credentials",
	service.CodeInvalidCode:     "Invalid code",
	service.CodeAccountDisabled: "Account disabled",
	service.CodeUnauthenticated: "Authentication required",
	service.CodeForbidden:       "Forbidden",
	service.CodeNotFound:        "Not found",
	service.CodeConflict:        "Conflict",
	service.CodeLastLoginMethod: "Last sign-in method",
	service.CodeRateLimited:     "Too many requests",
	service.CodeUnavailable:     "Service unavailable",
	service.CodeInternal:        "Internal error",
}

// problemTypeBase prefixes each code to form the problem's type URI; the
// page lists every code.
const problemTypeBase = "https://github.com/nextsecure/nextsecure/blob/main/docs/problems.md#"

// problem is an RFC 9457 problem details body. It holds no per-request
// value, so identical failures have byte-identical bodies.
type problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Code   service.Code   `json:"code"`
	Errors []problemField `json:"errors,omitempty"`
}

type problemField struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err as a problem. 5xx are logged at error level with
// their cause (503 unavailable at warning level), 4xx at debug; no log line
// carries request secrets.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := service.AsError(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var se statusError
	if errors.As(err, &se) {
		status = se.status
	}
	switch {
	case e.Code == service.CodeUnavailable:
		// An outage or overload: expected, often many at once, and told
		// to the client with Retry-After; a warning, not an error.
		logger.WarnContext(r.Context(), "request refused: unavailable", "status", status, "err", err)
	case status >= 500:
		logger.ErrorContext(r.Context(), "request failed", "status", status, "code", e.Code, "err", err)
	default:
		logger.DebugContext(r.Context(), "request refused", "status", status, "code", e.Code)
	}
	setRetryAfter(w, e)
	p := problem{
		Type:   problemTypeBase + string(e.Code),
		Title:  titles[e.Code],
		Status: status,
		Detail: e.Message,
		Code:   e.Code,
	}
	if status == http.StatusInternalServerError {
		p.Code, p.Title, p.Detail, p.Type = service.CodeInternal, titles[service.CodeInternal],
			"Something went wrong on our side.", problemTypeBase+string(service.CodeInternal)
	}
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, problemField(f))
	}
	writeProblem(w, status, p)
}

// setRetryAfter tells a throttled or unavailable caller, in whole seconds
// rounded up, when to come back.
func setRetryAfter(w http.ResponseWriter, e *service.Error) {
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}

// writeProblem writes a problem body with status.
func writeProblem(w http.ResponseWriter, status int, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Set-Cookie")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// statusError answers an error with another status than its code's usual
// one: invalid_credentials is 401 at sign-in but 403 when a signed-in user
// gives a wrong current password (401 would tell the client to sign in again).
type statusError struct {
	err    error
	status int
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

// withStatus makes err answer with status.
func withStatus(status int, err error) error { return statusError{err: err, status: status} }

// fail builds an HTTP-layer error.
func fail(code service.Code, msg string) error {
	return service.Errorf(code, "%s", msg)
}

// decode reads a JSON object body into v: Content-Type application/json
// (else 415), at most 64 KiB (else 413), no unknown fields and no trailing
// data (else 400 invalid_json).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail(codeUnsupportedMedia, "Send the body as application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(codeBodyTooLarge, "The request body is larger than 64 KiB.")
		}
		return fail(codeInvalidJSON, "The request body could not be read.")
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON object into v, strictly: besides unknown
// fields and trailing data it refuses, at any depth, a duplicate key and a
// key that names a field only case-insensitively, both of which
// encoding/json would silently accept (the last duplicate wins; "PASSWORD"
// fills Password), so that what a proxy, a log or a WAF reads in the body
// is what the handler sees.
func decodeJSON(body []byte, v any) error {
	invalid := fail(codeInvalidJSON, "The request body is not a valid JSON object of the expected fields.")
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid
	}
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		return invalid
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid
	}
	return nil
}

// errBadKey is checkKeys' answer; the client only ever sees invalid_json.
var errBadKey = errors.New("duplicate or case-mismatched key")

// checkKeys walks the first JSON value of body beside the Go type t that
// it will be decoded into and refuses a duplicate key in any object, and,
// in an object decoded into a struct, a key that is not exactly a field's
// JSON name. Where the type does not tell (a json.Unmarshaler, an
// interface), only duplicates are refused. Syntax errors are left to the
// decoder that runs next, as is everything after the first value.
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return checkValue(dec, t, 0)
}

// maxDepth bounds checkValue's recursion; encoding/json itself refuses
// nesting deeper than 10000, and no request of this API nests more than 2.
const maxDepth = 64

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkValue reads one value from dec; t is its Go type, nil if unknown.
func checkValue(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxDepth {
		return errBadKey
	}
	t = indirectType(t)
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkValue(dec, elem, depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = cachedJSONFields(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := make(map[string]bool)
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return errBadKey
			}
			seen[key] = true
			vt := elem
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return errBadKey
				}
				vt = ft
			}
			if err := checkValue(dec, vt, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// indirectType is t without pointers, or nil when t decodes itself (a
// json.Unmarshaler) or is nil or an interface: then the shape of the value
// is not known.
func indirectType(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// fieldCache holds jsonFields per struct type: request types are few.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

func cachedJSONFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	f := jsonFields(t)
	fieldCache.Store(t, f)
	return f
}

// jsonFields maps the exact JSON names of struct t's fields, as
// encoding/json sees them (tag name, else Go name; "-" and unexported
// fields left out; untagged embedded structs flattened), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if et := indirectType(f.Type); et != nil && et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for _, et := range embedded { // a shallower field wins, as in encoding/json
		for k, v := range jsonFields(et) {
			if _, ok := fields[k]; !ok {
				fields[k] = v
			}
		}
	}
	return fields
}

// jsonContentType is the Content-Type of JSON answers, shared (see nosniff).
var jsonContentType = []string{"application/json"}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
