package httpapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// TestScreenshots is a generator, not a check: with SCREENSHOTS set to a
// folder (make screenshots), it writes a PNG of each page, light and dark,
// into it. A page that does not answer 200 fails it: the pictures must show
// the pages as people see them.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		t.Skip("SCREENSHOTS unset: this generator writes the pages' screenshots there (make screenshots)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnv(t, func(cfg *service.Config) { cfg.Secrets = keys })
	adminID := e.seedPasswordUser("ada@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin', name = 'Ada Lovelace' WHERE id = $1", adminID)
	base := time.Now().Add(-48 * time.Hour)
	e.mustSeedUsers(
		seedUser{id: "shot-grace", name: "Grace Hopper", email: "grace@example.com", createdAt: base, password: true},
		seedUser{id: "shot-alan", name: "Alan Turing", email: "alan@example.com", createdAt: base.Add(time.Hour), provider: "github"},
		seedUser{id: "shot-edsger", email: "edsger@example.com", createdAt: base.Add(2 * time.Hour), password: true},
	)
	e.exec("UPDATE users SET is_active = false WHERE id = 'shot-edsger'")

	shoot := func(tb *tab, path string) {
		t.Helper()
		if s := tb.open(path); s != http.StatusOK {
			t.Fatalf("%s answered %d", path, s)
		}
		name := strings.Trim(strings.SplitN(path, "?", 2)[0], "/")
		name = strings.ReplaceAll(name, "/", "-")
		for _, scheme := range []string{"light", "dark"} {
			if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			}); err != nil {
				t.Fatalf("emulate %s: %v", scheme, err)
			}
			png := get(tb, "screenshot "+path, chromedp.FullScreenshot(100))
			file := filepath.Join(dir, name+"-"+scheme+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", file)
		}
	}

	anon := e.newTab()
	for _, path := range []string{
		"/login", "/register", "/verify-email", "/forgot-password", "/reset-password?token=x",
		"/magic-link?token=x", "/confirm-email?token=x",
	} {
		shoot(anon, path)
	}

	// /login/mfa is reached by a password sign-in of a user with two-factor on.
	e.seedMFAUser("mfa@example.com")
	e.exec("UPDATE users SET name = 'Katherine Johnson' WHERE email = 'mfa@example.com'")
	two := e.newTab()
	two.open("/login")
	two.fill("#f-email", "mfa@example.com")
	two.fill("#f-password", goodPassword)
	two.submit("form[action='/login'] button[type=submit]")
	two.wantPath("/login/mfa")
	shoot(two, "/login/mfa")

	admin := e.newTab()
	adminPageSignIn(admin, "ada@example.com", goodPassword)
	shoot(admin, "/account")
	shoot(admin, "/admin")
}
