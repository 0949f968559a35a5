// Command printlimits prints the protocol version and shared limits go-diss
// enforces, as JSON, so that a Python test (tests/runtime/test_shared_limits.py)
// can check that both sides agree. Run: go run ./internal/config/printlimits
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"swimfd/go-diss/internal/config"
)

func main() {
	out, err := json.Marshal(map[string]int{
		"PROTOCOL_VERSION":    int(config.ProtocolVersion),
		"MAX_CLUSTER_LEN":     config.MaxClusterLen,
		"MAX_ID_LEN":          config.MaxIDLen,
		"MAX_MESSAGE_BYTES":   config.MaxMessageBytes,
		"MAX_CONCURRENT_RPCS": config.MaxConcurrentRPCs,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "printlimits:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
