// Package faults holds go-diss's test-only fault injection: message loss
// matching the detector's --test-loss, so an injected loss rate hits every
// message a swimfd member sends and receives, dissemination included.
package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// EnvName must be "1" for --test-loss to be accepted (the detector uses the same variable).
const EnvName = "SWIMFD_ENABLE_FAULT_INJECTION"

// CheckLoss validates a --test-loss value; env is the value of EnvName.
func CheckLoss(p float64, env string) error {
	if p == 0 {
		return nil
	}
	if env != "1" {
		return fmt.Errorf("--test-loss is a test-only fault injection; set %s=1 to allow it", EnvName)
	}
	if !(p > 0 && p < 1) {
		return errors.New("--test-loss: must be in [0, 1)")
	}
	return nil
}

// Loss drops each message with probability p. The zero value and nil drop nothing.
type Loss struct {
	p   float64
	mu  sync.Mutex
	rng *rand.Rand
}

// NewLoss returns a Loss with its own seeded generator.
func NewLoss(p float64, seed int64) *Loss {
	return &Loss{p: p, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
}

// Drop reports whether this message is lost.
func (l *Loss) Drop() bool {
	if l == nil || l.p <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.Float64() < l.p
}
