// Package httpapi serves nextsecure's HTTP contract (API.md) on httprouter.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nextsecure/nextsecure/service"
)

// Config holds the HTTP layer's settings.
type Config struct {
	// BaseURL is the public origin: cookies are Secure and HSTS is sent
	// when it is https, and cookie-authenticated unsafe requests must come
	// from its origin.
	BaseURL string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RequestTimeout bounds each request's work, so a database outage or an
	// exhausted pool answers 503 instead of hanging.
	RequestTimeout time.Duration
	// SchemaVersion is the migration version /readyz expects.
	SchemaVersion int64
	// OpenAPI is the contract document served at /openapi.yaml.
	OpenAPI []byte
	// Pages serves the browser pages (API.md "Browser pages").
	Pages bool
}

// Handler is the HTTP API.
type Handler struct {
	http.Handler
	api *api
}

// SetDraining makes /readyz answer 503, so load balancers stop sending
// traffic while in-flight requests finish.
func (h *Handler) SetDraining() { h.api.draining.Store(true) }

type api struct {
	svc      *service.Service
	cfg      Config
	log      *slog.Logger
	router   *httprouter.Router
	origin   string
	secure   bool
	draining atomic.Bool
	metrics  *metrics
	pages    *pages
}

// New returns the HTTP API over svc.
func New(svc *service.Service, cfg Config, logger *slog.Logger) *Handler {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	a := &api{svc: svc, cfg: cfg, log: logger, router: httprouter.New()}
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		a.origin = u.Scheme + "://" + u.Host
		a.secure = u.Scheme == "https"
	}
	a.metrics = newMetrics(svc)
	a.router.HandleMethodNotAllowed = true
	a.router.RedirectTrailingSlash = false
	a.router.RedirectFixedPath = false
	a.router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.pages != nil && wantsPage(r) {
			a.pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
			})).ServeHTTP(w, r)
			return
		}
		writeError(w, r, a.log, fail(service.CodeNotFound, "No such route."))
	})
	a.router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// API.md has no code of its own for 405: the route exists, but
		// not for this method, so the code is not_found, with Allow set.
		writeProblem(w, http.StatusMethodNotAllowed, problem{
			Type: problemTypeBase + string(service.CodeNotFound), Title: "Method not allowed",
			Status: http.StatusMethodNotAllowed, Code: service.CodeNotFound,
			Detail: "This route does not accept that method.",
		})
	})
	a.routes()
	if cfg.Pages {
		p, err := newPages()
		if err != nil {
			// The pages are embedded: a template that does not parse is
			// a build defect, caught by every page test.
			panic("httpapi: pages: " + err.Error())
		}
		a.pages = p
		a.pageRoutes()
	}
	return &Handler{Handler: a.common(a.router), api: a}
}

// handle registers h for method and path, recording metrics under path.
// Its work is bounded by the request timeout. A GET route answers HEAD too.
func (a *api) handle(method, path string, h http.Handler) {
	a.register(method, path, a.withDeadline(h))
}

// handleLocal is handle for routes that answer from memory, without I/O
// to wait on, so without a deadline to set.
func (a *api) handleLocal(method, path string, h http.Handler) {
	a.register(method, path, h)
}

// register adds h to the router, and for a GET route also as its HEAD
// route (RFC 9110 9.3.2: HEAD wherever GET works; load balancers probe
// with it), which httprouter does not do by itself. HEAD runs the GET
// handler: net/http discards the body but keeps the status and headers,
// Content-Length included when GET would send one. Registering it also
// puts HEAD in the Allow header of the path's 405 answers.
func (a *api) register(method, path string, h http.Handler) {
	a.router.Handler(method, path, a.metrics.instrument(method, path, h))
	if method == http.MethodGet {
		a.router.Handler(http.MethodHead, path, a.metrics.instrument(http.MethodHead, path, h))
	}
}
