package devpg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoBinariesNamesWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianBinDirs
	debianBinDirs = filepath.Join(t.TempDir(), "*", "bin")
	defer func() { debianBinDirs = old }()

	_, err := Locate(t.TempDir())
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("Locate without binaries: got %v, want ErrNoBinaries", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "apt-get install postgresql") {
		t.Errorf("message %q: want one line naming what to install", msg)
	}
}

func TestFindsNewestDebianVersion(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	root := t.TempDir()
	old := debianBinDirs
	debianBinDirs = filepath.Join(root, "*", "bin")
	defer func() { debianBinDirs = old }()
	for _, v := range []string{"9", "15", "13"} {
		dir := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := findBinDir()
	if want := filepath.Join(root, "15", "bin"); err != nil || got != want {
		t.Fatalf("findBinDir() = %q, %v; want %q", got, err, want)
	}
}
