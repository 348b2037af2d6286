"""RFC 9497 Appendix A.1 (ristretto255-SHA512) test vectors, byte for byte, and the refusals."""

from __future__ import annotations

import pytest

from runtime import oprf

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")
BLIND_1 = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
BLIND_2 = bytes.fromhex("222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e")
X0, X1 = bytes.fromhex("00"), bytes.fromhex("5a" * 17)

OPRF_VECTORS = [
    (
        X0,
        "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
        "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    ),
    (
        X1,
        "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
        "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    ),
]
VOPRF_OUT_0 = (
    "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
    "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"
)
VOPRF_OUT_1 = (
    "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
    "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"
)
VOPRF_VECTORS = [  # inputs, blinds, blinded, evaluated, proof, proof random scalar, outputs
    (
        [X0],
        [BLIND_1],
        ["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
        ["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
        "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06"
        "6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
        BLIND_2,
        [VOPRF_OUT_0],
    ),
    (
        [X1],
        [BLIND_1],
        ["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
        ["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
        "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a"
        "67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
        BLIND_2,
        [VOPRF_OUT_1],
    ),
    (
        [X0, X1],
        [BLIND_1, BLIND_2],
        [
            "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
            "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        ],
        [
            "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
            "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        ],
        "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a"
        "5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
        bytes.fromhex("419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c"),
        [VOPRF_OUT_0, VOPRF_OUT_1],
    ),
]


def test_derive_key_pair_matches_rfc() -> None:
    assert oprf.derive_key_pair(SEED, KEY_INFO, oprf.MODE_OPRF).secret.hex() == (
        "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
    )
    pair = oprf.derive_key_pair(SEED, KEY_INFO, oprf.MODE_VOPRF)
    assert pair.secret.hex() == "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909"
    assert pair.public.hex() == "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
    assert pair.secret.hex() not in repr(pair)


@pytest.mark.parametrize(("data", "blinded", "evaluated", "output"), OPRF_VECTORS)
def test_oprf_mode_vectors(data: bytes, blinded: str, evaluated: str, output: str) -> None:
    key = oprf.derive_key_pair(SEED, KEY_INFO, oprf.MODE_OPRF)
    r, element = oprf.blind(data, oprf.MODE_OPRF, BLIND_1)
    assert element.hex() == blinded
    assert oprf.blind_evaluate(key.secret, element).hex() == evaluated
    assert oprf.finalize(data, r, bytes.fromhex(evaluated)).hex() == output


@pytest.mark.parametrize(("inputs", "blinds", "blinded", "evaluated", "proof", "nonce", "outputs"), VOPRF_VECTORS)
def test_voprf_mode_vectors(
    inputs: list[bytes],
    blinds: list[bytes],
    blinded: list[str],
    evaluated: list[str],
    proof: str,
    nonce: bytes,
    outputs: list[str],
) -> None:
    key = oprf.derive_key_pair(SEED, KEY_INFO, oprf.MODE_VOPRF)
    elements = [oprf.blind(x, oprf.MODE_VOPRF, r)[1] for x, r in zip(inputs, blinds, strict=True)]
    assert [e.hex() for e in elements] == blinded
    evaluations = [oprf.blind_evaluate(key.secret, e) for e in elements]
    assert [e.hex() for e in evaluations] == evaluated
    made = oprf.generate_proof(key.secret, key.public, elements, evaluations, oprf.MODE_VOPRF, nonce)
    assert made.hex() == proof
    assert oprf.verify_proof(key.public, elements, evaluations, made)
    finals = [oprf.finalize(x, r, e) for x, r, e in zip(inputs, blinds, evaluations, strict=True)]
    assert [f.hex() for f in finals] == outputs


def test_proof_from_another_key_or_altered_evaluation_is_rejected() -> None:
    key, other = oprf.generate_key_pair(), oprf.generate_key_pair()
    elements = [oprf.blind(x)[1] for x in (b"a", b"b", b"c")]
    evaluations = [oprf.blind_evaluate(other.secret, e) for e in elements]
    proof = oprf.generate_proof(other.secret, other.public, elements, evaluations)
    assert oprf.verify_proof(other.public, elements, evaluations, proof)
    assert not oprf.verify_proof(key.public, elements, evaluations, proof)
    honest = [oprf.blind_evaluate(key.secret, e) for e in elements]
    good = oprf.generate_proof(key.secret, key.public, elements, honest)
    swapped = [honest[1], honest[0], honest[2]]
    assert not oprf.verify_proof(key.public, elements, swapped, good)
    assert not oprf.verify_proof(key.public, elements, honest, bytes(64))
    assert not oprf.verify_proof(key.public, elements, honest, good[:63])


@pytest.mark.parametrize(
    "element",
    [b"", bytes(32), b"\xff" * 32, bytes(31), bytes.fromhex("00" * 31 + "80"), b"\x01" + bytes(31)],
)
def test_malformed_elements_are_refused(element: bytes) -> None:
    key = oprf.generate_key_pair()
    with pytest.raises(oprf.OprfError):
        oprf.blind_evaluate(key.secret, element)


def test_delta_carries_an_element_into_the_next_epoch() -> None:
    k1, k2 = oprf.generate_key_pair(), oprf.generate_key_pair()
    r, blinded = oprf.blind(b"phone|+8613800000000")
    n1 = oprf.unblind(r, oprf.blind_evaluate(k1.secret, blinded))
    n2 = oprf.unblind(r, oprf.blind_evaluate(k2.secret, blinded))
    assert n1 != n2
    assert oprf.rekey(oprf.rotation_delta(k1.secret, k2.secret), n1) == n2
