package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nextsecure/nextsecure/service"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
)

// RequestID returns the request's id, as sent in X-Request-Id.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// LogHandler wraps a slog.Handler so every line logged with a request's
// context carries its request id.
type LogHandler struct{ slog.Handler }

// Handle adds the request id, if any, to the record.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around derived handlers.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around derived handlers.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Header values shared by every response. net/http only reads them, and a
// handler that changes a header replaces its slice, so one copy serves all.
var (
	nosniff        = []string{"nosniff"}
	noReferrer     = []string{"no-referrer"}
	frameAncestors = []string{"frame-ancestors 'none'"}
	hstsValue      = []string{"max-age=63072000; includeSubDomains"}
	noStore        = []string{"no-store"}
)

// common wraps every request: request id, security headers, panic recovery
// into a 500 problem, and a debug access log line. Deadlines are per route
// (withDeadline), since only routes that wait on something need one.
func (a *api) common(next http.Handler) http.Handler {
	hsts := strings.HasPrefix(a.cfg.BaseURL, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		// Direct map writes with canonical keys: Header.Set would
		// canonicalise each key and allocate each value on every request.
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = noReferrer
		h["Content-Security-Policy"] = frameAncestors
		if hsts {
			h["Strict-Transport-Security"] = hstsValue
		}
		// Auth, account and admin answers are personal: never cached,
		// errors and unknown routes under /v1/ included.
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			h["Cache-Control"] = noStore
		}
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(ctx, "panic", "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, a.log, fail(service.CodeInternal, "panic"))
				}
			}
			if a.log.Enabled(ctx, slog.LevelDebug) {
				a.log.DebugContext(ctx, "request", "method", r.Method, "path", r.URL.Path,
					"status", sw.status, "duration", time.Since(start))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// withDeadline bounds a request's work by the configured timeout, so a
// database outage or an exhausted pool answers 503 instead of hanging.
func (a *api) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// newRequestID returns 24 random hex digits. Request ids only correlate log
// lines with answers: they must be unique and should not reveal how many
// requests a process served (a counter would), but they are no secret, so
// math/rand/v2's runtime-seeded ChaCha8 source serves, at a fraction of
// crypto/rand's cost per request.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}

// clientIP is the request's client address: the peer, or, when the peer is
// a trusted proxy, the rightmost X-Forwarded-For address that is not itself
// a trusted proxy. Forwarded headers from anyone else are ignored.
func (a *api) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !a.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = ip.Unmap()
		if !a.trusted(ip) {
			return ip.String()
		}
		peer = ip
	}
	return peer.String()
}

func (a *api) trusted(ip netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *api) meta(r *http.Request) service.Meta {
	return service.Meta{IP: a.clientIP(r), UserAgent: r.UserAgent()}
}

// throttled applies the per-address limit of a public auth route.
func (a *api) throttled(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.svc.ThrottleIP(r.Context(), route, a.clientIP(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sessionCookie is the name of the cookie that carries a session token.
const sessionCookie = "session"

// authed authenticates the request by bearer token or session cookie and
// passes the principal on. A cookie-authenticated unsafe request whose
// Origin differs from BASE_URL's is refused: cookies ride along on
// cross-site requests, bearer tokens do not.
func (a *api) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie := bearer(r), false
		if token == "" {
			if c, err := r.Cookie(sessionCookie); err == nil {
				token, fromCookie = c.Value, true
			}
		}
		if token == "" {
			writeError(w, r, a.log, fail(service.CodeUnauthenticated, "Sign in first."))
			return
		}
		if fromCookie && unsafeMethod(r.Method) {
			if foreignOrigin(r, a.origin) {
				writeError(w, r, a.log, fail(service.CodeForbidden, "Cross-origin request refused."))
				return
			}
		}
		p, err := a.svc.Authenticate(r.Context(), token)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if fromCookie && p.SessionExtended {
			// The session slid: so does the cookie, or the browser would
			// drop it at the first expiry while the session is in use.
			a.setSessionCookie(w, service.SessionToken{ID: p.SessionID, Token: token, ExpiresAt: p.SessionExpiresAt})
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// admin lets only active admins through; it runs after authed.
func (a *api) admin(next http.Handler) http.Handler {
	return a.authed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principal(r).User.Role != service.RoleAdmin {
			writeError(w, r, a.log, fail(service.CodeForbidden, "Administrators only."))
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func principal(r *http.Request) service.Principal {
	p, _ := r.Context().Value(principalKey).(service.Principal)
	return p
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}
