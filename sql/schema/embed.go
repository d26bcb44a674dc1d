// Package schema holds nextsecure's goose migrations, embedded so the binary
// can apply them without the source tree.
package schema

import "embed"

// FS holds the numbered migrations, 00001_init.sql onwards.
//
//go:embed *.sql
var FS embed.FS
