"""The committed generated code matches the .proto files, and the declared floors cover it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "proto" / "lianfang" / "v1"


def _floor(requirement: str) -> tuple[int, ...]:
    match = re.search(r">=\s*([0-9.]+)", requirement)
    assert match, f"no >= floor in {requirement!r}"
    return tuple(int(p) for p in match.group(1).split("."))


def _declared(name: str) -> tuple[int, ...]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [d for d in deps if re.match(rf"{name}\s*[><=]", d)]
    return _floor(req)


def test_regenerating_changes_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_protobuf_floor_covers_generated_code() -> None:
    needed = set()
    for f in GENERATED.glob("*_pb2.py"):
        m = re.search(
            r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),",
            f.read_text(),
        )
        assert m, f"{f.name} has no runtime version check"
        needed.add(tuple(int(x) for x in m.groups()))
    assert needed
    assert _declared("protobuf") >= max(needed)


def test_grpcio_floor_covers_generated_code() -> None:
    needed = set()
    for f in GENERATED.glob("*_pb2_grpc.py"):
        m = re.search(r"GRPC_GENERATED_VERSION = '([0-9.]+)'", f.read_text())
        assert m, f"{f.name} has no GRPC_GENERATED_VERSION"
        needed.add(tuple(int(x) for x in m.group(1).split(".")))
    assert needed
    assert _declared("grpcio") >= max(needed)


def test_contract_importable_as_lianfang_v1() -> None:
    from lianfang.v1 import common_pb2, consortium_pb2, node_pb2

    assert consortium_pb2.DESCRIPTOR.services_by_name["ConsortiumService"].methods_by_name["Check"]
    assert node_pb2.DESCRIPTOR.services_by_name["OriginationService"]
    assert common_pb2.TOKEN_SCHEME_HMAC_SHA256_128 == 1


def test_a_malformed_token_key_says_the_form() -> None:
    """``lianfang admin canaries plant`` takes token keys: a typo used to surface as Python's
    "not enough values to unpack"."""
    import pytest

    from consortium.records import token_from_key

    assert token_from_key("1.3.1.0a0b").value == bytes.fromhex("0a0b")
    for bad in ("zz", "2.3.1.zz", "1.3.x.00"):
        with pytest.raises(ValueError, match=r"not a token key: scheme\.type\.epoch\.<hex value>"):
            token_from_key(bad)


def test_a_key_service_epoch_prints_its_state_by_name_and_a_pinnable_key() -> None:
    from lianfang.v1 import keys_pb2

    from clients.cli.oprf_commands import epoch_dict
    from node.config import pinned_public_keys

    epoch = keys_pb2.KeyEpoch(epoch=2, state=keys_pb2.KEY_EPOCH_STATE_ACTIVE, public_key=b"\x07" * 32)
    printed = epoch_dict(epoch)
    assert printed == {"epoch": 2, "state": "active", "public_key": "07" * 32}
    assert pinned_public_keys({"2": str(printed["public_key"])}) == {2: b"\x07" * 32}
