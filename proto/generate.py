"""Regenerates the committed Python code for proto/lianfang/v1/*.proto.

Run from anywhere: ``python proto/generate.py``. With ``--check`` it regenerates into a temporary
folder and exits 1 if the result differs from what is committed (CI runs this via the tests).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = PROTO_ROOT / "lianfang" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Runs protoc (grpcio-tools) on every .proto and returns the generated files."""
    from grpc_tools import protoc  # imported late: only needed by this script

    include = Path(protoc.__file__).resolve().parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PACKAGE_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_root / "lianfang" / "v1").glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        if args.check:
            stale = [
                f.name
                for f in fresh
                if not (PACKAGE_DIR / f.name).exists() or not filecmp.cmp(f, PACKAGE_DIR / f.name, shallow=False)
            ]
            committed = {p.name for p in PACKAGE_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
            stale += sorted(committed - {f.name for f in fresh})
            if stale:
                print("generated code is stale: " + ", ".join(stale), file=sys.stderr)
                return 1
            return 0
        for f in fresh:
            shutil.copyfile(f, PACKAGE_DIR / f.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
