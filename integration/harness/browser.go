package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium (Debian's chromium package) started by a
// test and driven through the DevTools protocol with chromedp. It records
// every console error, uncaught exception and error entry of the browser
// log (a refused script or style, say) of the pages it opens.
type Browser struct {
	ctx context.Context
	pid int

	mu     sync.Mutex
	errors []string
}

// chromiumBinary is the Debian package's browser command.
const chromiumBinary = "chromium"

// StartBrowser starts a headless Chromium with a fresh profile. It fails
// the test (never skips it) when chromium is not installed:
// scripts/test-deps.sh installs it. When the test ends, the browser is
// closed and its process waited for, and ended by its PID if it is still
// there.
func StartBrowser(t T) *Browser {
	t.Helper()
	path, err := exec.LookPath(chromiumBinary)
	if err != nil {
		t.Fatalf("chromium is required for browser tests (scripts/test-deps.sh installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx}
	stop := func() {
		closeCtx, cancelClose := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(closeCtx) // closes the browser gracefully and waits for it
		cancelClose()
		cancel()
		cancelAlloc()
		if b.pid > 0 && syscall.Kill(b.pid, 0) == nil {
			_ = syscall.Kill(b.pid, syscall.SIGKILL)
			t.Logf("chromium (pid %d) outlived its close and was killed", b.pid)
		}
	}
	// The first run starts the browser, which lives as long as its
	// context: it must not be one with a timeout.
	err = chromedp.Do(ctx)
	if c := chromedp.FromContext(ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		b.pid = c.Browser.Process().Pid
	}
	if err != nil {
		stop()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(stop)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// Errors returns the console errors, exceptions and error log entries
// recorded so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Open navigates to url, sending header with every request of the page
// (its scripts, styles and event streams too), and waits for it to load.
func (b *Browser) Open(url string, header map[string]string) error {
	h := network.Headers{}
	for k, v := range header {
		h[k] = v
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// Text returns the text of the page's elements that match selector, as
// rendered (innerText), joined by newlines.
func (b *Browser) Text(selector string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	expr := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.innerText).join("\n")`, selector)
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// WaitText polls Text(selector) until cond accepts it, up to timeout, and
// returns the last text seen with cond's last error.
func (b *Browser) WaitText(selector string, timeout time.Duration, cond func(text string) error) (string, error) {
	var text string
	err := Eventually(timeout, 200*time.Millisecond, func() error {
		var err error
		if text, err = b.Text(selector); err != nil {
			return err
		}
		return cond(text)
	})
	return text, err
}

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}
