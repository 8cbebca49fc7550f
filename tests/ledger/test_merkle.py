"""RFC 6962 / 9162 Merkle tree: reference vectors, properties, and rejection of malformed proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.ledger import merkle

# Certificate Transparency reference data (transparency-dev/merkle test vectors): leaf inputs,
# then the root hash of the tree of the first n leaves for n = 0..8.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
LEAVES = [merkle.leaf_hash(d) for d in LEAF_INPUTS]


def _many(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _reference_root(hashes: list[bytes]) -> bytes:
    """RFC 6962 MTH written as the RFC states it (split at the largest power of two below n)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


def test_roots_match_the_reference_for_every_size() -> None:
    for n in range(len(LEAVES) + 1):
        assert merkle.root(LEAVES[:n]).hex() == ROOTS[n]


def test_leaf_and_node_hashes_use_the_domain_prefixes() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, expected: list[str]) -> None:
    proof = merkle.inclusion_proof(LEAVES, index, size)
    assert [p.hex() for p in proof] == expected
    assert merkle.verify_inclusion(
        leaf_hash=LEAVES[index], index=index, size=size, proof=proof, root=bytes.fromhex(ROOTS[size])
    )


@pytest.mark.parametrize(("size1", "size2", "expected"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(size1: int, size2: int, expected: list[str]) -> None:
    proof = merkle.consistency_proof(LEAVES, size1, size2)
    assert [p.hex() for p in proof] == expected
    assert merkle.verify_consistency(
        size1=size1,
        size2=size2,
        root1=bytes.fromhex(ROOTS[size1]),
        root2=bytes.fromhex(ROOTS[size2]),
        proof=proof,
    )


def test_every_proof_in_small_trees_verifies_and_every_mangled_one_fails() -> None:
    hashes = _many(34)
    for size in range(1, 34):
        tree_root = merkle.root(hashes[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(hashes, index, size)
            args = {"leaf_hash": hashes[index], "index": index, "size": size, "root": tree_root}
            assert merkle.verify_inclusion(proof=proof, **args)
            assert not merkle.verify_inclusion(proof=[*proof, hashes[0]], **args)
            if proof:
                assert not merkle.verify_inclusion(proof=proof[:-1], **args)
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not merkle.verify_inclusion(proof=flipped, **args)
            bigger = merkle.root(hashes[: size + 1])
            assert not merkle.verify_inclusion(
                leaf_hash=hashes[index], index=index, size=size + 1, proof=proof, root=bigger
            )
            other = (index + 1) % size
            if other != index:
                assert not merkle.verify_inclusion(
                    leaf_hash=hashes[index], index=other, size=size, proof=proof, root=tree_root
                )
        for size1 in range(1, size + 1):
            proof = merkle.consistency_proof(hashes, size1, size)
            args2 = {"size1": size1, "size2": size, "root1": merkle.root(hashes[:size1]), "root2": tree_root}
            assert merkle.verify_consistency(proof=proof, **args2)
            assert not merkle.verify_consistency(proof=[*proof, hashes[0]], **args2)
            if proof:
                assert not merkle.verify_consistency(proof=proof[:-1], **args2)
                flipped = [*proof[:-1], proof[-1][:-1] + bytes([proof[-1][-1] ^ 0x80])]
                assert not merkle.verify_consistency(proof=flipped, **args2)
            if size1 < size:
                assert not merkle.verify_consistency(
                    size1=size1, size2=size, root1=tree_root, root2=tree_root, proof=proof
                )


def test_malformed_arguments_are_rejected_not_raised() -> None:
    proof = merkle.inclusion_proof(LEAVES, 5, 8)
    root8 = bytes.fromhex(ROOTS[8])
    assert not merkle.verify_inclusion(leaf_hash=LEAVES[5], index=8, size=8, proof=proof, root=root8)
    assert not merkle.verify_inclusion(leaf_hash=LEAVES[5], index=-1, size=8, proof=proof, root=root8)
    assert not merkle.verify_inclusion(leaf_hash=LEAVES[5], index=0, size=0, proof=[], root=merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(leaf_hash=LEAVES[5][:31], index=5, size=8, proof=proof, root=root8)
    assert not merkle.verify_inclusion(
        leaf_hash=LEAVES[5], index=5, size=8, proof=[proof[0][:31], *proof[1:]], root=root8
    )
    assert not merkle.verify_inclusion(leaf_hash=LEAVES[5], index=5, size=8, proof=proof, root=root8[:31])
    # A single-leaf tree: the leaf is the root and the proof must be empty.
    assert merkle.verify_inclusion(leaf_hash=LEAVES[0], index=0, size=1, proof=[], root=LEAVES[0])
    assert not merkle.verify_inclusion(
        leaf_hash=LEAVES[0], index=0, size=1, proof=[LEAVES[1]], root=LEAVES[0]
    )

    cproof = merkle.consistency_proof(LEAVES, 6, 8)
    root6 = bytes.fromhex(ROOTS[6])
    assert not merkle.verify_consistency(size1=8, size2=6, root1=root8, root2=root6, proof=cproof)
    assert not merkle.verify_consistency(size1=6, size2=8, root1=root6, root2=root8, proof=[])
    assert not merkle.verify_consistency(size1=6, size2=8, root1=root6[:31], root2=root8, proof=cproof)
    # From the empty tree nothing can be proven; such proofs are refused whatever they hold.
    assert not merkle.verify_consistency(size1=0, size2=8, root1=merkle.EMPTY_ROOT, root2=root8, proof=[])
    assert not merkle.verify_consistency(
        size1=0, size2=0, root1=merkle.EMPTY_ROOT, root2=merkle.EMPTY_ROOT, proof=[]
    )
    # Equal sizes: only an empty proof between equal roots.
    assert merkle.verify_consistency(
        size1=4, size2=4, root1=bytes.fromhex(ROOTS[4]), root2=bytes.fromhex(ROOTS[4]), proof=[]
    )
    assert not merkle.verify_consistency(
        size1=4, size2=4, root1=bytes.fromhex(ROOTS[4]), root2=bytes.fromhex(ROOTS[5]), proof=[]
    )
    assert not merkle.verify_consistency(
        size1=4, size2=4, root1=bytes.fromhex(ROOTS[4]), root2=bytes.fromhex(ROOTS[4]), proof=[LEAVES[0]]
    )


def test_proof_generation_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(LEAVES, 0, 9)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES, 0, 8)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES, 5, 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=16), min_size=1, max_size=300))
def test_root_is_rfc_6962_mth_and_compact_range_agrees(data: list[bytes]) -> None:
    hashes = [merkle.leaf_hash(d) for d in data]
    assert merkle.root(hashes) == _reference_root(hashes)
    compact = merkle.CompactRange()
    cut = len(hashes) // 3
    compact.append_leaves(hashes[:cut])
    compact.append_leaves(hashes[cut:])
    assert compact.root() == merkle.root(hashes)
    assert compact.size == len(hashes)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=600), st.data())
def test_random_proofs_verify(size: int, data: st.DataObject) -> None:
    hashes = _many(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    size1 = data.draw(st.integers(min_value=1, max_value=size))
    tree_root = merkle.root(hashes)
    proof = merkle.inclusion_proof(hashes, index, size)
    assert merkle.verify_inclusion(
        leaf_hash=hashes[index], index=index, size=size, proof=proof, root=tree_root
    )
    cproof = merkle.consistency_proof(hashes, size1, size)
    assert merkle.verify_consistency(
        size1=size1, size2=size, root1=merkle.root(hashes[:size1]), root2=tree_root, proof=cproof
    )
    if cproof:
        bit = data.draw(st.integers(min_value=0, max_value=len(cproof) * 256 - 1))
        item, offset = divmod(bit, 256)
        damaged = bytearray(cproof[item])
        damaged[offset // 8] ^= 1 << (offset % 8)
        mangled = [*cproof[:item], bytes(damaged), *cproof[item + 1 :]]
        assert not merkle.verify_consistency(
            size1=size1, size2=size, root1=merkle.root(hashes[:size1]), root2=tree_root, proof=mangled
        )


def test_compact_range_reports_every_completed_subtree() -> None:
    hashes = _many(1000)
    seen: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange(
        on_node=lambda level, pos, h: seen.__setitem__((level, pos), h), report_from=2
    )
    for start in range(0, 1000, 37):
        compact.append_leaves(hashes[start : start + 37])
    for (level, position), h in seen.items():
        assert level >= 2
        assert h == merkle.root(hashes[position << level : (position + 1) << level])
    # every complete subtree of level >= 2 inside 1000 leaves was reported exactly once
    expected = sum(1000 >> level for level in range(2, 10))
    assert len(seen) == expected


def test_bulk_proofs_equal_single_proofs_for_every_shape() -> None:
    hashes = _many(70)
    for size in range(1, 71):
        bulk = merkle.inclusion_proofs(hashes, range(size), size)
        assert all(bulk[i] == merkle.inclusion_proof(hashes, i, size) for i in range(size)), size
