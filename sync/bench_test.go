package sync

import (
	"context"
	"fmt"
	"testing"

	"github.com/buzzmirror/buzzmirror/bench"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// benchBodies is a realistic stream from the load tool's generator.
func benchBodies(n int) [][]byte {
	s := bench.NewStream("b", bench.StreamOptions{Seed: 1, Contacts: 10_000, Conversations: 20_000, Disorder: 0.1})
	out := make([][]byte, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

func BenchmarkVerify(b *testing.B) {
	body := benchBodies(1)[0]
	v, _ := NewVerifier([]string{"old-secret", "secret"})
	sig := "sha256=" + Sign("secret", body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !v.Verify(body, sig) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkParseAndDecode(b *testing.B) {
	bodies := benchBodies(1024)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		env, err := ParseEnvelope(bodies[i%len(bodies)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitBatch measures the writer's path for a batch of 64 new
// events (journal insert, projection, commit, answers) on each driver, as
// the writer runs it; ns/op is per batch, events/s is reported.
func BenchmarkCommitBatch(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			db := storetest.Open(b, driver)
			s := newTestSyncer(db)
			defer s.Close()
			stream := bench.NewStream(fmt.Sprint("c", driver), bench.StreamOptions{Seed: 2, Contacts: 10_000, Conversations: 20_000, Disorder: 0.1})
			ctx := context.Background()
			b.ResetTimer()
			events := 0
			for b.Loop() {
				b.StopTimer()
				reqs := make([]*request, 64)
				for i := range reqs {
					env, _ := ParseEnvelope(stream.Next())
					ev, status, reason := classify(env)
					reqs[i] = &request{env: env, ev: ev, status: status, reason: reason, ctx: ctx, done: make(chan reply, 1)}
				}
				b.StartTimer()
				s.commit(reqs)
				for _, r := range reqs {
					if got := <-r.done; got.err != nil {
						b.Fatal(got.err)
					}
				}
				events += len(reqs)
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
