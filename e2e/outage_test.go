package e2e

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	gosync "sync"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// proxy forwards TCP to Postgres until it is cut: then it drops every
// connection and refuses new ones, as a database that went away would.
type proxy struct {
	target string
	addr   string
	mu     gosync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	p.listen(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.listen(ln)
}

// TestDatabaseOutage cuts the service off from Postgres while it runs:
// webhooks answer 503 within seconds and never 200, readiness fails, the
// read API answers 503 problems; when the database is back the service
// recovers without a restart and every event ends up applied exactly once.
func TestDatabaseOutage(t *testing.T) {
	if len(storetest.Drivers(t)) < 2 {
		t.Skip("needs Postgres")
	}
	dsn := storetest.DSN(t, store.DriverPostgres)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	s := start(t, "BUZZMIRROR_DATABASE_DRIVER=postgres", "BUZZMIRROR_DATABASE_DSN="+u.String(),
		"BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
	hook := "http://" + s.addr + "/webhooks/buzzbip"
	client := &http.Client{Timeout: 15 * time.Second}
	bodies := stream(60)
	for _, b := range bodies[:20] {
		if code, err := post(client, hook, b); err != nil || code != 200 {
			t.Fatalf("before the outage: %d %v", code, err)
		}
	}

	p.cut()
	for i, b := range bodies[20:40] {
		begin := time.Now()
		code, err := post(client, hook, b)
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("during the outage, event %d: %d %v", i, code, err)
		}
		if took := time.Since(begin); took > 9*time.Second {
			t.Fatalf("a 503 took %s, past BuzzBip's patience", took)
		}
	}
	for _, path := range []string{"/readyz", "/v1/contacts", "/v1/stats"} {
		resp, err := client.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s during the outage: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if resp, err := client.Get("http://" + s.addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("liveness must not depend on the database: %v", err)
	}

	p.restore(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, err := post(client, hook, bodies[20])
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not recover: %d %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, b := range bodies {
		if code, err := post(client, hook, b); err != nil || code != 200 {
			t.Fatalf("after the outage: %d %v", code, err)
		}
	}
	resp, err := client.Get("http://" + s.addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("not ready after recovery: %v", err)
	}
	resp.Body.Close()
	s.settle(t)

	db := openStore(t, store.DriverPostgres, dsn)
	if st, _ := db.Stats(t.Context()); st.JournalRows() != int64(countIDs(bodies)) {
		t.Errorf("journal holds %d events, want %d", st.JournalRows(), countIDs(bodies))
	}
	if got, want := mirror(t, db), cleanMirror(t, store.DriverPostgres, bodies); !reflect.DeepEqual(got, want) {
		t.Error("after the outage the mirror differs from a clean delivery")
	}
}
