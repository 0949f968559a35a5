package broadcast

import (
	"context"
	"fmt"
	"testing"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/fakes"
	"swimfd/go-diss/internal/logging"
)

// BenchmarkFanOut measures one notice delivered to every peer (in-process
// gRPC servers on loopback, connections warm): ns/op is the time from Send
// until the last peer acknowledged.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{8, 32, 128} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			pool := NewPool(n)
			defer pool.Close()
			bc := New(config.DefaultTuning(), pool, logging.Discard())
			defer func() { _ = bc.Close(context.Background()) }()
			targets := make([]Target, n)
			for i := range targets {
				p := fakes.NewPeer(b, fmt.Sprint(i))
				targets[i] = Target{ID: p.ID, Addr: p.Addr}
			}
			notice := testNotice()
			if err := bc.Send(notice, targets).Wait(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := bc.Send(notice, targets).Wait(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
