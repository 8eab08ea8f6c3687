// Package e2e tests the built buzzmirror binary from the outside: it starts
// `serve` configured only by environment variables, drives it with `send`,
// and reads the database it wrote.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"

	// The binary under test is built from these packages; importing them
	// ties go test's result cache to their source, so a change reruns this.
	_ "github.com/buzzmirror/buzzmirror/cli"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "buzzmirror-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "buzzmirror")
	// With the race detector, as the tests of the packages run; a
	// measurement (the attack test's figures) builds without it.
	args := []string{"build", "-race", "-o", binary, ".."}
	if os.Getenv("BUZZMIRROR_E2E_NO_RACE") != "" {
		args = []string{"build", "-o", binary, ".."}
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// service is a running `buzzmirror serve`.
type service struct {
	cmd  *exec.Cmd
	addr string
	env  []string
	logs *syncBuffer
}

func start(t *testing.T, env ...string) *service {
	t.Helper()
	s := &service{addr: freeAddr(t), logs: &syncBuffer{}}
	s.env = append(os.Environ(), append(env, "BUZZMIRROR_LISTEN="+s.addr)...)
	s.cmd = exec.Command(binary, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		if t.Failed() {
			t.Logf("serve output:\n%s", s.logs)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready: %v\n%s", err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle waits until the service has applied every event it journaled.
func (s *service) settle(t *testing.T) {
	t.Helper()
	settle(t, s.addr)
}

// settle waits until the service at addr reports no pending event.
func settle(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := pending(addr)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events still pending after 30 s: %d, %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pending reads events.pending from /v1/stats.
func pending(addr string) (int64, error) {
	resp, err := http.Get("http://" + addr + "/v1/stats")
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	var st struct {
		Events struct{ Pending int64 } `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return -1, err
	}
	return st.Events.Pending, nil
}

// syncBuffer is a buffer the service's output goes to while a test reads it.
type syncBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs a buzzmirror subcommand with the service's environment.
func (s *service) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buzzmirror %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestServeSendRebuild(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			s := start(t, "BUZZMIRROR_DATABASE_DRIVER="+driver, "BUZZMIRROR_DATABASE_DSN="+dsn,
				"BUZZMIRROR_WEBHOOK_SECRET=e2e-secret, rotated-secret")

			out := s.run(t, "send", "--type", "all", "--id", "evt_e2e")
			if got := strings.Count(out, `{"status":"accepted"}`); got != 10 {
				t.Fatalf("send: %d accepted, want 10:\n%s", got, out)
			}
			out = s.run(t, "send", "--type", "contact.updated", "--id", "evt_e2e_7")
			if !strings.Contains(out, `{"status":"duplicate"}`) {
				t.Fatalf("resend: %s", out)
			}

			// SIGTERM shuts down cleanly.
			s.settle(t)
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := s.cmd.Wait(); err != nil {
				t.Fatalf("serve exited with %v\n%s", err, s.logs)
			}

			db, err := store.Open(context.Background(), driver, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if st, err := db.Stats(context.Background()); err != nil || st.Events[models.EventApplied] != 10 {
				t.Fatalf("journal: %+v, %v; want 10 applied events", st, err)
			}
			before, err := db.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(before.Contacts) != 1 || len(before.Conversations) != 2 || len(before.Messages) != 4 || len(before.WorkflowRuns) != 1 {
				t.Fatalf("mirror: %d contacts, %d conversations, %d messages, %d runs",
					len(before.Contacts), len(before.Conversations), len(before.Messages), len(before.WorkflowRuns))
			}
			for _, c := range before.Conversations {
				if (c.ID == "conv_demo_1") != (c.Status == "resolved" && c.MessageCount == 3 && !c.AwaitingReply) ||
					(c.ID == "conv_demo_2") != (c.Status == "open" && c.MessageCount == 1 && c.AwaitingReply) {
					t.Errorf("conversation: %+v", c)
				}
			}

			out = s.run(t, "rebuild")
			if !strings.Contains(out, "rebuilt from 10 events (10 applied, 0 ignored, 0 failed, 0 erased; 0 rows removed)") {
				t.Errorf("rebuild: %s", out)
			}
			if out := s.run(t, "migrate"); !strings.Contains(out, "up to date") {
				t.Errorf("migrate: %s", out)
			}
		})
	}
}

func TestServeRefusesWithoutSecret(t *testing.T) {
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "BUZZMIRROR_LISTEN="+freeAddr(t), "BUZZMIRROR_DATABASE_DSN="+filepath.Join(t.TempDir(), "x.db"),
		"BUZZMIRROR_WEBHOOK_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "webhook.secret is empty") {
		t.Fatalf("serve without a secret: err %v, output %s", err, out)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "BUZZMIRROR_WEBHOOK_SECRET=x", "BUZZMIRROR_DATABASE_DRIVER=oracle")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "database.driver") {
		t.Fatalf("err %v, output %s", err, out)
	}
}

// TestBenchIngestReportsTheWriter drives the built server with the load
// tool and checks its report, the writer's line from /metrics included.
func TestBenchIngestReportsTheWriter(t *testing.T) {
	s := start(t, "BUZZMIRROR_DATABASE_DSN="+storetest.DSN(t, store.DriverSQLite), "BUZZMIRROR_WEBHOOK_SECRET=e2e-secret")
	out := s.run(t, "bench", "ingest", "--url", "http://"+s.addr+"/webhooks/buzzbip", "--secret", "e2e-secret",
		"--connections", "4", "--count", "200")
	if !strings.Contains(out, "ingest: 200 requests") {
		t.Fatalf("bench ingest did not report 200 requests:\n%s", out)
	}
	var batches int
	var perBatch float64
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "writer: ") {
			if _, err := fmt.Sscanf(line, "writer: %d batches, %f deliveries a batch", &batches, &perBatch); err != nil {
				t.Fatalf("writer line %q: %v", line, err)
			}
		}
	}
	// The mean is printed to a tenth: batches × mean is 200 within batches/20.
	if batches < 1 || batches > 200 || math.Abs(float64(batches)*perBatch-200) > float64(batches)/20 {
		t.Errorf("writer line says %d batches of %.1f, want 200 deliveries in all:\n%s", batches, perBatch, out)
	}
}
