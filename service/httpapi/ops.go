package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/nextsecure/nextsecure/service"
)

type statusResponse struct {
	Status string `json:"status"`
}

func (a *api) handleHealthz() http.Handler {
	body, _ := json.Marshal(statusResponse{Status: "ok"})
	body = append(body, '\n') // as encode writes it
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = jsonContentType
		w.Write(body)
	})
}

func (a *api) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			writeError(w, r, a.log, &service.Error{Code: service.CodeUnavailable,
				Message: "The server is shutting down.", RetryAfter: 5e9})
			return
		}
		if err := a.svc.Ready(r.Context(), a.cfg.SchemaVersion); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, statusResponse{Status: "ready"})
	})
}

func (a *api) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A length, so that GET and HEAD announce the size of a
		// document too large for net/http to measure by itself.
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Content-Length", strconv.Itoa(len(a.cfg.OpenAPI)))
		w.Write(a.cfg.OpenAPI)
	})
}

func (a *api) handleMetrics() http.Handler { return a.metrics.handler() }
