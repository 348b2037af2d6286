"""Generated protobuf and gRPC code for the lianfang.v1 contract (see *.proto)."""
