"""The gRPC process around the core: server, transport, authentication, logs and the go-diss child."""
