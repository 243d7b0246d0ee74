package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
)

// browser drives one headless Chromium tab against the console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
}

// newBrowser starts Debian's chromium (skips without it) with a fresh
// profile, headless, and no traffic but to the console.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil && os.Getenv("SWITCHYARD_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium is not on PATH and SWITCHYARD_REQUIRE_BROWSER is set: install Debian's chromium package (apt-get install -y chromium)")
	}
	if err != nil {
		t.Skip("chromium is not on PATH: install Debian's chromium package (apt-get install -y chromium) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	// Screenshots are artefacts to look at after the run, so they outlive
	// the test: under $SWITCHYARD_SCREENSHOTS, or a fresh temp directory.
	dir := os.Getenv("SWITCHYARD_SCREENSHOTS")
	if dir == "" {
		if dir, err = os.MkdirTemp("", "switchyard-console-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	b := &browser{t: t, ctx: ctx, base: base, dir: dir}
	b.do(chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(path string) { b.t.Helper(); b.do(chromedp.Navigate(b.base + path)) }

func (b *browser) click(sel string) { b.t.Helper(); b.do(chromedp.Click(chromedp.CSS(sel))) }

// clickReload clicks a button whose action reloads the page, and waits
// for the new page (a fresh window, fully loaded) to meet cond, so the
// next step never acts on the page being replaced.
func (b *browser) clickReload(sel, what, cond string) {
	b.t.Helper()
	b.eval(`(window.beforeReload = true)`)
	b.click(sel)
	b.until(what, `!window.beforeReload && document.readyState === "complete" && (`+cond+`)`)
}

// fill replaces an input's value with v, typed as a user would.
func (b *browser) fill(sel, v string) {
	b.t.Helper()
	b.eval(`(document.querySelector(` + js(sel) + `).value = "") === ""`)
	b.do(chromedp.SendKeys(chromedp.CSS(sel), v))
}

// text is an element's textContent, read in one evaluation once the page
// has loaded (a node id could outlive its page).
func (b *browser) text(sel string) string {
	b.t.Helper()
	b.until(sel, `document.querySelector(`+js(sel)+`)`)
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(`+js(sel)+`).textContent`))
	if err != nil {
		b.t.Fatalf("%s: %v", sel, err)
	}
	return s
}

func (b *browser) eval(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript condition (across navigations), and fails
// with what the page says when it does not come.
func (b *browser) until(what, expr string) {
	b.t.Helper()
	var err error
	if testutil.Poll(10*time.Second, func() bool {
		var ok bool
		ok, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		return err == nil && ok
	}) {
		return
	}
	body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	b.t.Fatalf("waiting for %s (%s): last error %v\npage:\n%s", what, expr, err, body)
}

// shot saves the page at 1280×800 and at 390×844.
func (b *browser) shot(name string) {
	b.t.Helper()
	for _, s := range []struct{ w, h int64 }{{390, 844}, {1280, 800}} {
		b.do(chromedp.EmulateViewport(s.w, s.h), chromedp.Sleep(50*time.Millisecond))
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%s-%dx%d.png", name, s.w, s.h)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *browser) dark(on bool) {
	b.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	}))
}

// js quotes s for a JavaScript expression.
func js(s string) string { return fmt.Sprintf("%q", s) }

// The console end to end, in a real browser against a real gateway and a
// real TLS receiver: log in, watch the sinks live, create a sink, test,
// pause and resume, edit, find an event and its attempts, redrive a dead
// letter, start and cancel a replay.
func TestConsoleInBrowser(t *testing.T) {
	rc := newReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiAllow, Sinks: rc.SinkYAML("orders", `["order.*"]`, 4, "") + rc.SinkYAML("flaky", `["invoice.*"]`, 4, "") + rc.SinkYAML("slow", `["audit.*"]`, 1, "")})
	b := newBrowser(t, "http://"+g.AdminAddr())
	ctx := context.Background()

	// An event whose data holds a script, delivered to a receiver whose
	// answer holds one too.
	gatewaytest.Publish(t, g, "order.created", "evt-xss", []byte(`{"note":"<script>window.pwned=1</script>"}`), nil)
	testutil.WaitFor(t, 10*time.Second, "evt-xss delivered", func() bool { return rc.received("orders", "evt-xss") })

	// Log in: a wrong token is refused, the right one opens the sinks.
	b.open("/")
	b.until("the login page", `location.pathname === "/login"`)
	b.shot("login")
	b.fill("#token", "nope")
	b.click(`#login-form button[type="submit"]`)
	b.until("the refusal", `!document.querySelector("#login-error").hidden`)
	b.fill("#token", token)
	b.click(`#login-form button[type="submit"]`)
	b.until("the sinks list", `location.pathname === "/" && !!document.querySelector('tr[data-sink="orders"]')`)

	// The list is live: a pause made elsewhere shows without a reload.
	b.eval(`(window.notReloaded = true)`)
	if err := g.Admin().Sinks.Pause(ctx, "slow", "maintenance"); err != nil {
		t.Fatal(err)
	}
	b.until("slow shown paused", `window.notReloaded && document.querySelector('tr[data-sink="slow"] .state').textContent === "paused"`)
	b.shot("sinks")
	b.dark(true)
	b.shot("sinks-dark")
	b.dark(false)
	b.open("/?state=paused")
	b.until("the state filter", `document.querySelectorAll("#sink-rows tr[data-sink]").length === 1 && !!document.querySelector('tr[data-sink="slow"]')`)
	if err := g.Admin().Sinks.Resume(ctx, "slow"); err != nil {
		t.Fatal(err)
	}

	// Create a sink: the validator's error shows next to the URL field,
	// then the sink is made and its secret shown once.
	b.open("/sinks/new")
	b.fill("#c-name", "created")
	b.fill("#c-events", "order.*")
	b.fill("#c-url", "http://")
	b.fill("#c-extra", fmt.Sprintf(`{"allow_private_networks": true, "timeout": "2s", "tls": {"ca_file": %q}}`, rc.CAFile))
	b.click(`#create-form button[type="submit"]`)
	b.until("the URL's error next to it", `document.getElementById("err-webhook.url").textContent !== ""`)
	b.shot("new-sink")
	b.fill("#c-url", rc.Server.URL+"/created")
	b.click(`#create-form button[type="submit"]`)
	b.until("the new secret", `!document.querySelector("#create-secret").hidden && document.querySelector("#created-secret").textContent.startsWith("whsec_")`)

	// Test: the receiver's status, latency and answer, as text.
	b.open("/sinks/created")
	b.until("created running", `document.querySelector("#sink-state").textContent === "running"`)
	b.click(`button[data-action="test"]`)
	b.until("the test result", `!document.querySelector("#test-result").hidden`)
	if got := b.text("#test-status"); got != "200" {
		t.Fatalf("test status %q", got)
	}
	if got := b.text("#test-response"); !strings.Contains(got, "<script>window.pwnedByReceiver=1</script>") {
		t.Fatalf("test response %q", got)
	}
	if !b.eval(`window.pwnedByReceiver === undefined`) {
		t.Fatal("the receiver's script ran")
	}
	b.shot("sink")

	// Rotate: confirmed, then the new secret shown once.
	b.click(`button[data-action="rotate"]`)
	b.until("the rotation's confirmation", `document.querySelector("#confirm").open`)
	b.click("#confirm-ok")
	b.until("the new secret", `!document.querySelector("#rotate-result").hidden && document.querySelector("#rotate-secret").textContent.startsWith("whsec_")`)

	// Pause and resume through the buttons.
	b.clickReload(`button[data-action="pause"]`, "paused", `document.querySelector("#sink-state").textContent === "paused" && !!document.querySelector('button[data-action="resume"]')`)
	b.clickReload(`button[data-action="resume"]`, "running again", `document.querySelector("#sink-state").textContent === "running"`)

	// Edit: a bad URL is refused next to its field; a description is saved.
	b.fill("#e-url", "http://")
	b.click(`#edit-form button[type="submit"]`)
	b.until("the edit's URL error", `document.getElementById("err-webhook.url").textContent !== ""`)
	b.fill("#e-url", rc.Server.URL+"/created")
	b.fill("#e-description", "edited in the console")
	b.clickReload(`#edit-form button[type="submit"]`, "saved", `document.querySelector("#sink-config").textContent.includes("edited in the console")`)

	// Find the event by id: its payload and attempts show as text.
	b.open("/events")
	b.fill("#q-id", "evt-xss")
	b.click(`form.filters button[type="submit"]`)
	b.until("the event page", `location.pathname === "/events/evt-xss"`)
	if got := b.text("#event-payload"); !strings.Contains(got, `"note": "<script>window.pwned=1</script>"`) {
		t.Fatalf("payload %q", got)
	}
	b.until("its attempt at orders", `[...document.querySelectorAll("table.attempts tbody tr")].some(r => r.textContent.includes("orders") && r.textContent.includes("delivered") && r.textContent.includes("<script>window.pwnedByReceiver=1</script>"))`)
	if !b.eval(`window.pwned === undefined && window.pwnedByReceiver === undefined && document.scripts.length === 1`) {
		t.Fatal("a script from the event or the receiver is in the page")
	}
	b.shot("event")
	b.open("/events?type=order.*")
	b.until("the search by type", `!!document.querySelector('a[href="/events/evt-xss"]')`)
	b.shot("events")
	b.open("/logs?sink=orders&outcome=delivered")
	b.until("the log", `!!document.querySelector('a[href="/events/evt-xss"]')`)
	b.shot("logs")

	// A dead letter, redriven from the console and delivered.
	rc.set("flaky", true, false)
	gatewaytest.Publish(t, g, "invoice.paid", "evt-dead", []byte(`{"n":1}`), nil)
	testutil.WaitFor(t, 10*time.Second, "evt-dead dead-lettered", func() bool {
		recs, _ := g.Admin().DeadLetters.DeadLetters(ctx, "flaky", deadletter.Filter{})
		return len(recs) == 1
	})
	rc.set("flaky", false, false)
	b.open("/sinks/flaky/dead-letters")
	b.click(".dl-pick")
	b.click(`button[data-dl="redrive"][data-scope="selected"]`)
	b.until("the confirmation", `document.querySelector("#confirm").open`)
	if got := b.text("#confirm-text"); !strings.HasPrefix(got, "Redrive 1 dead letter of flaky?") {
		t.Fatalf("confirmation %q", got)
	}
	b.shot("dead-letters")
	b.click("#confirm-ok")
	b.until("redriven", `document.querySelector("#dl-status").textContent === "Redrove 1 dead letter."`)
	testutil.WaitFor(t, 10*time.Second, "evt-dead delivered", func() bool { return rc.received("flaky", "evt-dead") })
	// The attempt log flushes every 100ms: the page shows the delivery
	// once it has, on a reload.
	if !testutil.Poll(10*time.Second, func() bool {
		b.open("/events/evt-dead")
		return b.eval(`[...document.querySelectorAll("table.attempts tbody tr")].some(r => r.textContent.includes("flaky") && r.textContent.includes("delivered"))`)
	}) {
		t.Fatalf("evt-dead's delivery not shown: %s", b.text("main"))
	}

	// Replay to a slow receiver: progress shows, and cancel stops it.
	for i := range 8 {
		gatewaytest.Publish(t, g, "audit.logged", fmt.Sprintf("evt-audit-%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "audit events delivered", func() bool { return rc.received("slow", "evt-audit-7") })
	rc.set("slow", false, true)
	b.open("/replay?sink=slow")
	b.click(`#replay-form button[type="submit"]`)
	b.until("the progress bar", `!document.querySelector("#replay-progress").hidden && document.querySelector("#replay-text").textContent.startsWith("running") && document.querySelector("#replay-bar").max >= 8`)
	b.shot("replay")
	b.click("#replay-cancel")
	b.until("canceled", `document.querySelector("#replay-text").textContent.startsWith("canceled")`)
	rs := g.Admin().Replays.Replays()
	if len(rs) != 1 || rs[0].State != "canceled" {
		t.Fatalf("replays: %+v", rs)
	}
}
