"""Wrapped epoch keys: only the member they are wrapped to can unwrap them, for that epoch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from clients.key_epochs import generate_encryption_key_file, load_encryption_key, unwrap_key, wrap_key


def test_only_its_member_unwraps_it_for_its_epoch(tmp_path: Path) -> None:
    a_public = generate_encryption_key_file(tmp_path / "a.pem")
    generate_encryption_key_file(tmp_path / "b.pem")
    a, b = load_encryption_key(tmp_path / "a.pem"), load_encryption_key(tmp_path / "b.pem")
    key = os.urandom(32)
    blob = wrap_key(key, 2, "lender-a", a_public)
    assert key not in blob
    assert unwrap_key(blob, 2, "lender-a", a) == key
    for who, epoch, private in (("lender-a", 2, b), ("lender-b", 2, a), ("lender-a", 3, a)):
        with pytest.raises(InvalidTag):
            unwrap_key(blob, epoch, who, private)  # another member's key, member id or epoch
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidTag):
        unwrap_key(tampered, 2, "lender-a", a)
    assert wrap_key(key, 2, "lender-a", a_public) != blob  # fresh ephemeral key and nonce
    assert (tmp_path / "a.pem").stat().st_mode & 0o777 == 0o600
