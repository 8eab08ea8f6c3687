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
		if err := v.Verify(body, sig); err != nil {
			b.Fatal(err)
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
		if _, err := Decode(env, testClock); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournalBatch measures the webhook's path for a batch of 64 new
// events (journal insert, counters, commit, answers) on each driver, as
// the writer runs it; ns/op is per batch, events/s is reported.
func BenchmarkJournalBatch(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			s := newTestService(storetest.Open(b, driver))
			defer s.Close()
			stream := bench.NewStream(fmt.Sprint("c", driver), bench.StreamOptions{Seed: 2, Contacts: 10_000, Conversations: 20_000, Disorder: 0.1})
			b.ResetTimer()
			events := 0
			for b.Loop() {
				b.StopTimer()
				bodies := make([][]byte, 64)
				for i := range bodies {
					bodies[i] = stream.Next()
				}
				reqs := requests(s, bodies)
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

// BenchmarkProjectorStep measures the projector's transaction for 1,000
// pending events on each driver: read them, decode, load the rows they
// name, apply, write, mark them applied; events/s is reported.
func BenchmarkProjectorStep(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			s := newTestService(storetest.Open(b, driver))
			defer s.Close()
			hold(b, s)
			stream := bench.NewStream(fmt.Sprint("p", driver), bench.StreamOptions{Seed: 3, Contacts: 10_000, Conversations: 20_000, Disorder: 0.1})
			ctx := context.Background()
			events := 0
			for b.Loop() {
				b.StopTimer()
				bodies := make([][]byte, 1000)
				for i := range bodies {
					bodies[i] = stream.Next()
				}
				if _, err := s.write(ctx, requests(s, bodies)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				st, err := s.projector.Step(ctx)
				if err != nil {
					b.Fatal(err)
				}
				events += st.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
