package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"
)

// IngestOptions drive the webhook.
type IngestOptions struct {
	URL         string
	Secret      string
	Connections int
	Duration    time.Duration // stop after this long...
	Count       int           // ...or after this many requests, whichever comes first (0: no count)
	Stream      StreamOptions
	RunID       string  // prefix of this run's event ids, so runs never collide
	Rate        float64 // deliveries a second across all connections; 0 sends as fast as answers come
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
	}
}

// run starts conns workers calling do until the deadline or the count, and
// merges what they measured.
func run(ctx context.Context, conns int, duration time.Duration, count int, do func(worker int, l *Latencies) error) (*Latencies, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var issued atomic.Int64
	results := make([]*Latencies, conns)
	errs := make([]error, conns)
	var wg gosync.WaitGroup
	start := time.Now()
	for w := range conns {
		results[w] = NewLatencies()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if count > 0 && issued.Add(1) > int64(count) {
					return
				}
				if err := do(w, results[w]); err != nil {
					if ctx.Err() == nil {
						errs[w] = err
						cancel()
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := NewLatencies()
	for _, r := range results {
		all.Merge(r)
	}
	for _, err := range errs {
		if err != nil {
			return all, elapsed, err
		}
	}
	return all, elapsed, nil
}

// Ingest posts signed events from Connections keep-alive connections.
func Ingest(ctx context.Context, o IngestOptions) (*Latencies, time.Duration, error) {
	client := newClient(o.Connections)
	streams := make([]*Stream, o.Connections)
	for w := range streams {
		so := o.Stream
		so.Seed += uint64(w)
		streams[w] = NewStream(fmt.Sprintf("%s%d", o.RunID, w), so)
	}
	// With a rate, each connection sends on its own schedule, so that the
	// load does not follow the answers (an open loop); a connection that
	// falls behind sends at once, without catching up in a burst.
	next := make([]time.Time, o.Connections)
	var every time.Duration
	if o.Rate > 0 {
		every = time.Duration(float64(o.Connections) / o.Rate * float64(time.Second))
		start := time.Now()
		for w := range next {
			next[w] = start.Add(every * time.Duration(w) / time.Duration(o.Connections))
		}
	}
	return run(ctx, o.Connections, o.Duration, o.Count, func(w int, l *Latencies) error {
		if every > 0 {
			if wait := time.Until(next[w]); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
			if next[w] = next[w].Add(every); next[w].Before(time.Now()) {
				next[w] = time.Now()
			}
		}
		body := streams[w].Next()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-BuzzBip-Signature", sign(o.Secret, body))
		code, answer, took, err := timed(ctx, client, req)
		if err != nil || code == 0 {
			return err
		}
		l.Add(took, label(code, answer))
		return nil
	})
}

// timed sends req and reads the whole answer, timing both. A request cut
// short because the run ended is no error and reports code 0.
func timed(ctx context.Context, client *http.Client, req *http.Request) (int, []byte, time.Duration, error) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, 0, nil
		}
		return 0, nil, 0, fmt.Errorf("bench: %w", err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil && ctx.Err() == nil {
		return 0, nil, 0, fmt.Errorf("bench: read answer: %w", err)
	}
	return resp.StatusCode, answer, time.Since(start), nil
}

// sign is BuzzBip's signature: hex HMAC-SHA256 of the body. (The load tool
// computes it itself so that it depends on nothing it measures.)
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// label names an answer: the status code, and for a 200 its outcome.
func label(code int, body []byte) string {
	if code == http.StatusOK {
		if i := bytes.Index(body, []byte(`"status":"`)); i >= 0 {
			rest := body[i+10:]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				return "200_" + string(rest[:j])
			}
		}
	}
	return strconv.Itoa(code)
}

// ReadOptions drive the read API against a mirror seeded by Seed.
type ReadOptions struct {
	URL           string // base URL, e.g. http://127.0.0.1:8080
	Token         string
	Connections   int
	Duration      time.Duration
	Contacts      int
	Conversations int
	Messages      int
	Inspector     bool // the inspector's pages instead of the API
}

// inspectorTargets are the inspector's pages the read benchmark mixes.
func inspectorTargets(o ReadOptions, rng *rand.Rand) map[string]func() string {
	return map[string]func() string{
		"ui overview":              func() string { return "/ui/" },
		"ui events failed":         func() string { return "/ui/events?status=failed" },
		"ui events by type":        func() string { return "/ui/events?type=message.failed" },
		"ui event":                 func() string { return fmt.Sprintf("/ui/events/seed_m%d", rng.IntN(o.Messages)) },
		"ui conversations":         func() string { return "/ui/conversations?status=open" },
		"ui conversations waiting": func() string { return "/ui/conversations?awaiting=yes" },
		"ui conversation":          func() string { return fmt.Sprintf("/ui/conversations/conv_%d", rng.IntN(o.Conversations)) },
		"ui message":               func() string { return fmt.Sprintf("/ui/messages/msg_%d", rng.IntN(o.Messages)) },
		"ui contact":               func() string { return fmt.Sprintf("/ui/contacts/cnt_%d", rng.IntN(o.Contacts)) },
		// A contact's number, as a support lead would type it: in its name, phone and email.
		"ui contacts search": func() string { return fmt.Sprintf("/ui/contacts?q=%d", rng.IntN(o.Contacts)) },
	}
}

// readTargets are the endpoints the read benchmark mixes, by name.
func readTargets(o ReadOptions, rng *rand.Rand) map[string]func() string {
	if o.Inspector {
		return inspectorTargets(o, rng)
	}
	return map[string]func() string{
		"list contacts":              func() string { return "/v1/contacts" },
		"list contacts by tag":       func() string { return "/v1/contacts?tag=vip" },
		"list conversations open":    func() string { return "/v1/conversations?status=open" },
		"list messages":              func() string { return "/v1/messages" },
		"list messages failed":       func() string { return "/v1/messages?status=failed" },
		"conversation messages":      func() string { return fmt.Sprintf("/v1/conversations/conv_%d/messages", rng.IntN(o.Conversations)) },
		"contact conversations":      func() string { return fmt.Sprintf("/v1/contacts/cnt_%d/conversations", rng.IntN(o.Contacts)) },
		"get contact":                func() string { return fmt.Sprintf("/v1/contacts/cnt_%d", rng.IntN(o.Contacts)) },
		"get conversation":           func() string { return fmt.Sprintf("/v1/conversations/conv_%d", rng.IntN(o.Conversations)) },
		"get message":                func() string { return fmt.Sprintf("/v1/messages/msg_%d", rng.IntN(o.Messages)) },
		"list messages of contact":   func() string { return fmt.Sprintf("/v1/messages?contactId=cnt_%d", rng.IntN(o.Contacts)) },
		"list conversations updated": func() string { return "/v1/conversations?updatedSince=2026-01-01T00:00:00Z" },
		// What tool builders asked for.
		"conversations awaiting reply": func() string { return "/v1/conversations?awaitingReply=true" },
		"conversations with contacts":  func() string { return "/v1/conversations?expand=contact" },
		"conversations by ids": func() string {
			ids := make([]string, 20)
			for i := range ids {
				ids[i] = fmt.Sprintf("conv_%d", rng.IntN(o.Conversations))
			}
			return "/v1/conversations?ids=" + strings.Join(ids, ",")
		},
		"messages by error code":   func() string { return "/v1/messages?errorCode=131026" },
		"messages by body, common": func() string { return "/v1/messages?q=help" },
		"contact messages":         func() string { return fmt.Sprintf("/v1/contacts/cnt_%d/messages", rng.IntN(o.Contacts)) },
		"stats":                    func() string { return "/v1/stats" },
	}
}

// Read drives the read API and returns latencies per endpoint and overall.
func Read(ctx context.Context, o ReadOptions) (map[string]*Latencies, *Latencies, time.Duration, error) {
	client := newClient(o.Connections)
	names := make([]string, 0)
	for name := range readTargets(o, nil) {
		names = append(names, name)
	}
	perWorker := make([]map[string]*Latencies, o.Connections)
	rngs := make([]*rand.Rand, o.Connections)
	targets := make([]map[string]func() string, o.Connections)
	for w := range perWorker {
		perWorker[w] = map[string]*Latencies{}
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 1))
		targets[w] = readTargets(o, rngs[w])
	}
	all, elapsed, err := run(ctx, o.Connections, o.Duration, 0, func(w int, l *Latencies) error {
		name := names[rngs[w].IntN(len(names))]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL+targets[w][name](), nil)
		if err != nil {
			return err
		}
		if o.Token != "" {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
		status, _, took, err := timed(ctx, client, req)
		if err != nil || status == 0 {
			return err
		}
		code := strconv.Itoa(status)
		l.Add(took, code)
		if perWorker[w][name] == nil {
			perWorker[w][name] = NewLatencies()
		}
		perWorker[w][name].Add(took, code)
		return nil
	})
	byName := map[string]*Latencies{}
	for _, m := range perWorker {
		for name, l := range m {
			if byName[name] == nil {
				byName[name] = NewLatencies()
			}
			byName[name].Merge(l)
		}
	}
	return byName, all, elapsed, err
}
