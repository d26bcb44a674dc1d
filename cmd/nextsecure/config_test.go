package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// A .env file in the working folder supplies settings the environment lacks.
// The test changes the working folder, so it cannot run in parallel.
func TestDotEnvInWorkingFolder(t *testing.T) {
	dsn := testdb.NewEmptyURL(t) // before Chdir: the test cluster is found from the working folder
	dir := t.TempDir()
	t.Chdir(dir)
	writeDotEnv := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	migrateUp := func(env map[string]string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"migrate", "up"}, mapEnv(env), strings.NewReader(""), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}

	writeDotEnv("# settings for development\nexport DATABASE_URL='" + dsn + "'\n")
	if out, err := migrateUp(nil); err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate up with DATABASE_URL from .env = %q, %v; want it applied", out, err)
	}
	if got := schemaVersion(t, dsn); got == 0 {
		t.Error("migrate up with DATABASE_URL from .env migrated nothing")
	}

	// The environment wins over the file.
	writeDotEnv("DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1\n")
	if _, err := migrateUp(map[string]string{"DATABASE_URL": dsn}); err != nil {
		t.Fatalf("migrate up with DATABASE_URL in the environment and a bad one in .env: %v", err)
	}

	writeDotEnv("DATABASE_URL\n")
	if _, err := migrateUp(nil); err == nil || !strings.Contains(err.Error(), ".env:1") {
		t.Fatalf("run with a malformed .env = %v, want an error naming .env:1", err)
	}
}

func TestReadDotEnv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		content string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", content: "", want: map[string]string{}},
		{name: "plain", content: "A=1\nB = two \n", want: map[string]string{"A": "1", "B": "two"}},
		{name: "comments and blanks", content: "# c\n\n  # indented\nA=1\n", want: map[string]string{"A": "1"}},
		{name: "export", content: "export A=1\n", want: map[string]string{"A": "1"}},
		{name: "double quoted", content: `A="x # y"` + "\n", want: map[string]string{"A": "x # y"}},
		{name: "single quoted", content: "A='x=y'\n", want: map[string]string{"A": "x=y"}},
		{name: "equals in value", content: "URL=postgres://h/db?sslmode=disable\n", want: map[string]string{"URL": "postgres://h/db?sslmode=disable"}},
		{name: "unbalanced quote kept", content: `A="x` + "\n", want: map[string]string{"A": `"x`}},
		{name: "empty value", content: "A=\n", want: map[string]string{"A": ""}},
		{name: "CRLF", content: "A=1\r\nB=2\r\n", want: map[string]string{"A": "1", "B": "2"}},
		{name: "no equals", content: "A=1\nB\n", wantErr: ":2: want KEY=VALUE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readDotEnv(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readDotEnv = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("readDotEnv = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	got, err := readDotEnv(filepath.Join(t.TempDir(), "missing"))
	if err != nil || len(got) != 0 {
		t.Errorf("readDotEnv of a missing file = %v, %v; want empty, nil", got, err)
	}
}
