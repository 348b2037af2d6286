"""Runtime shared by the hub and the node: gRPC server assembly, interceptors, error mapping,
structured logs, TLS material, configuration loading and clocks."""
