// Package docs embeds the OpenAPI document, so the server can serve it.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml, the HTTP contract as OpenAPI 3.1.
//
//go:embed openapi.yaml
var OpenAPI []byte
