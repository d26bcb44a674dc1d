package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/nextsecure/nextsecure/service"
)

// Helpers of the browser tests (issue 13): one headless Chromium for the
// whole test binary, a fresh browser context (cookies of its own) per tab,
// and on failure a screenshot and the page's HTML kept on disk.

// stepTimeout bounds each step of a browser test (a page load, a click),
// so that a missing element fails the test in seconds, not at its deadline.
const stepTimeout = 20 * time.Second

var chromium struct {
	once   sync.Once
	ctx    context.Context // the browser; tabs derive from it
	cancel context.CancelFunc
	err    error
}

// TestMain stops the shared browser after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.cancel != nil {
		chromium.cancel()
	}
	os.Exit(code)
}

// chromiumPath finds the browser: $CHROMIUM, or Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserContext returns the shared browser, starting it at first use. A
// machine without Chromium skips the browser tests, except under CI, where
// they must run.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("Chromium not found (CI=%s requires the browser tests): install Debian's chromium package", ci)
		}
		t.Skip("Chromium not found: browser tests skipped (install Debian's chromium package)")
	}
	chromium.once.Do(func() {
		dir, err := os.MkdirTemp("", "nextsecure-chromium-")
		if err != nil {
			chromium.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.UserDataDir(dir),
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-features", "HttpsUpgrades,Translate"),
			chromedp.WindowSize(1024, 900),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil {
			chromium.err = err
			cancelCtx()
			cancelAlloc()
			return
		}
		chromium.ctx = ctx
		chromium.cancel = func() {
			cancelCtx()
			cancelAlloc()
			os.RemoveAll(dir)
		}
	})
	if chromium.err != nil {
		t.Fatalf("start Chromium (%s): %v", path, chromium.err)
	}
	return chromium.ctx
}

// newPageEnv is a stack that serves the browser pages at its own address.
func newPageEnv(t *testing.T, configure ...func(*service.Config)) *env {
	t.Helper()
	return startEnv(t, true, configure...)
}

// tab is one browser tab in a browser context of its own, on e's server.
type tab struct {
	t   *testing.T
	e   *env
	ctx context.Context
}

// tabOption changes a new tab.
type tabOption func(*testing.T, context.Context)

// withoutJavaScript disables every script in the tab: the pages must work
// without.
func withoutJavaScript(t *testing.T, ctx context.Context) {
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
}

// newTab opens a tab with its own cookies. When the test fails, a
// screenshot and the HTML of the page it was on are kept in a folder of
// their own, whose paths the test prints.
func (e *env) newTab(opts ...tabOption) *tab {
	t := e.t
	t.Helper()
	root := browserContext(t)
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tb := &tab{t: t, e: e, ctx: ctx}
	for _, o := range opts {
		o(t, ctx)
	}
	t.Cleanup(tb.keepEvidence)
	return tb
}

// keepEvidence saves what the tab shows when the test failed.
func (tb *tab) keepEvidence() {
	if !tb.t.Failed() {
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(tb.t.Name(), "_")
	dir, err := os.MkdirTemp("", "nextsecure-"+name+"-")
	if err != nil {
		tb.t.Logf("keep evidence: %v", err)
		return
	}
	capture, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	loc, err := chromedp.Run(capture, chromedp.Location())
	if err != nil {
		tb.t.Logf("browser evidence not captured: %v", err)
		return
	}
	html, err := chromedp.Run(capture, chromedp.OuterHTML("html"))
	if err != nil {
		tb.t.Logf("browser evidence not captured: %v", err)
		return
	}
	png, err := chromedp.Run(capture, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("browser evidence not captured: %v", err)
		return
	}
	shot, page := filepath.Join(dir, "screenshot.png"), filepath.Join(dir, "page.html")
	os.WriteFile(shot, png, 0o644)
	os.WriteFile(page, []byte(html), 0o644)
	tb.t.Logf("browser was at %s\n\tscreenshot: %s\n\tHTML: %s", loc, shot, page)
}

// do runs steps in the tab, failing the test on error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// get runs an action that returns a value in tb, failing the test on error.
func get[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// navigate runs actions that load a page (opening an address, sending a
// form) and returns the status the page was served with.
func (tb *tab) navigate(what string, actions ...chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		tb.t.Fatalf("%s: no page loaded", what)
	}
	return int(resp.Status)
}

// open loads path (or a whole URL) and returns its status.
func (tb *tab) open(path string) int {
	tb.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = tb.e.srv.URL + path
	}
	return tb.navigate("open "+path, chromedp.Navigate(u))
}

// fill types value into the input sel (a CSS selector), replacing what it held.
func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	tb.do("fill "+sel, chromedp.WaitVisible(sel), chromedp.Clear(sel), chromedp.SendKeys(sel, value))
}

// submit clicks the button sel and waits for the page the form loads; it
// returns that page's status.
func (tb *tab) submit(sel string) int {
	tb.t.Helper()
	return tb.navigate("submit "+sel, chromedp.Click(sel, chromedp.NodeVisible))
}

// path is the tab's current path and query.
func (tb *tab) path() string {
	tb.t.Helper()
	return strings.TrimPrefix(get(tb, "location", chromedp.Location()), tb.e.srv.URL)
}

// wantPath fails unless the tab is at path.
func (tb *tab) wantPath(path string) {
	tb.t.Helper()
	if got := tb.path(); got != path {
		tb.t.Fatalf("browser at %s, want %s", got, path)
	}
}

// text returns the visible text of the first element sel matches.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return get(tb, "read "+sel, chromedp.Text(sel, chromedp.NodeVisible))
}

// wantText fails unless the element sel shows want.
func (tb *tab) wantText(sel, want string) {
	tb.t.Helper()
	if got := tb.text(sel); !strings.Contains(got, want) {
		tb.t.Fatalf("%s shows %q, want %q in it", sel, got, want)
	}
}

// count returns how many elements sel matches.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return get(tb, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// attr returns attribute name of the first element sel matches.
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	return get(tb, "read "+sel, chromedp.AttributeValue(sel, name)).Value
}

// cookie returns the value of the tab's cookie name, "" when none.
func (tb *tab) cookie(name string) string {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.e.srv.URL}})
	if err != nil {
		tb.t.Fatalf("cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// mailedLink returns the link under base+prefix in the last mail to addr.
func (e *env) mailedLink(addr, prefix string) string {
	e.t.Helper()
	m := e.mailTo(addr)
	link := m.FindLink(e.srv.URL + prefix)
	if link == "" {
		e.t.Fatalf("no %s link in the mail to %s: %q", prefix, addr, m.Text)
	}
	return link
}
