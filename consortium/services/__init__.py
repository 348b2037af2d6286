"""gRPC servicers of the hub: thin adapters from protobuf to the domain and store."""
