package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: Debian's chromium, unless
// BUZZMIRROR_CHROMIUM names another.
func chromium(t *testing.T) string {
	if p := os.Getenv("BUZZMIRROR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: CI installs Debian's chromium package")
	}
	t.Skip("no Chromium (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium at the given width; the flags keep it
// off the network this machine does not have.
func browser(t *testing.T, width int) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(width, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// TestInspectorInABrowser signs in to the inspector of the built binary
// in headless Chromium and answers "what happened to this message" by
// following links, as a support lead would: from the failed event to its
// message, its conversation and its contact; then filters.
// BUZZMIRROR_SCREENSHOTS=dir keeps a screenshot of each page there
// (scripts/screenshots.sh).
func TestInspectorInABrowser(t *testing.T) {
	shots := os.Getenv("BUZZMIRROR_SCREENSHOTS")
	s := start(t, "BUZZMIRROR_DATABASE_DSN="+filepath.Join(t.TempDir(), "ui.db"), "BUZZMIRROR_WEBHOOK_SECRET=ui-secret",
		"BUZZMIRROR_API_TOKENS=ui-token")
	s.run(t, "send", "--type", "all", "--id", "evt_demo")
	s.settle(t)
	base := "http://" + s.addr
	ctx := browser(t, 1280)

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if shots == "" {
				return nil
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	steps := []struct {
		name string
		do   []chromedp.Action[chromedp.Void]
		want []string
	}{
		{"sign-in", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/ui/"), chromedp.WaitVisible(css("#token")), shot("sign-in")},
			[]string{"API token"}},
		{"overview", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(css("#token"), "ui-token"), chromedp.Submit(css("#token")),
			chromedp.WaitVisible(css("#counts")), shot("overview")},
			[]string{"Overview", "open conversations", "131026", "Events received per minute"}},
		{"events", []chromedp.Action[chromedp.Void]{chromedp.Click(css(`nav a[href="/ui/events"]`)), chromedp.WaitVisible(css("#type")),
			chromedp.SetValue(css("#type"), "message.failed"), chromedp.Submit(css("#type")),
			chromedp.WaitVisible(css(`a[href="/ui/events/evt_demo_5"]`)), shot("events")},
			[]string{"evt_demo_5", "message.failed", "applied"}},
		{"event", []chromedp.Action[chromedp.Void]{chromedp.Click(css(`a[href="/ui/events/evt_demo_5"]`)), chromedp.WaitVisible(css("pre")), shot("event")},
			[]string{"Envelope, as BuzzBip sent it", "Message undeliverable", "conv_demo_1"}},
		{"message", []chromedp.Action[chromedp.Void]{chromedp.Click(css(`main a[href^="/ui/messages/"]`)), chromedp.WaitVisible(css("main dl")), shot("message")},
			[]string{"failed", "131026", "Message undeliverable", "Your cart is waiting for you"}},
		{"conversation", []chromedp.Action[chromedp.Void]{chromedp.Click(css(`dd a[href="/ui/conversations/conv_demo_1"]`)), chromedp.WaitVisible(css(".timeline")), shot("conversation")},
			[]string{"Timeline", "Opened", "Resolved", "inbound", "outbound", "Amira Ben Salah"}},
		{"contact", []chromedp.Action[chromedp.Void]{chromedp.Click(css(`main a[href="/ui/contacts/cnt_demo_1"]`)), chromedp.WaitVisible(css("main h2")), shot("contact")},
			[]string{"amira@example.com", "vip", "conv_demo_2", "wf_abandoned_cart"}},
		{"conversations", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/ui/conversations"), chromedp.Click(css("#awaiting")), chromedp.Submit(css("#awaiting")),
			chromedp.WaitVisible(css(`a[href="/ui/conversations/conv_demo_2"]`)), shot("conversations")},
			[]string{"conv_demo_2", "awaiting reply"}},
		{"contacts", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/ui/contacts"), chromedp.SendKeys(css("#q"), "amira"), chromedp.Submit(css("#q")),
			chromedp.WaitVisible(css(`a[href="/ui/contacts/cnt_demo_1"]`)), shot("contacts")},
			[]string{"Amira Ben Salah", "+21612345678"}},
	}
	for _, st := range steps {
		err := chromedp.Do(ctx, st.do...)
		text, _ := chromedp.Run(ctx, chromedp.Text(css("body")))
		url, _ := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("%s: %v (at %s)\n%s", st.name, err, url, text)
		}
		for _, want := range st.want {
			if !strings.Contains(text, want) {
				t.Errorf("%s (%s) does not show %q:\n%s", st.name, url, want, text)
			}
		}
	}

	// At 375 px wide, the pages still fit: nothing wider than the window
	// but the tables, which scroll inside their box.
	// (Headless Chromium will not make a window narrower than 500 px: the
	// viewport is emulated, as a phone's.)
	narrow := browser(t, 375)
	err := chromedp.Do(narrow, chromedp.EmulateViewport(375, 812), chromedp.Navigate(base+"/ui/sign-in"), chromedp.SendKeys(css("#token"), "ui-token"),
		chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#counts")),
		chromedp.Navigate(base+"/ui/conversations/conv_demo_1"), chromedp.WaitVisible(css(".timeline")), shot("conversation-375"))
	if err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(narrow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("at 375 px the conversation page is wider than the window")
	}
}
