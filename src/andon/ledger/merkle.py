"""The RFC 6962 / RFC 9162 Merkle tree: hashes, proofs and their verification.

Proofs are lists of subtree hashes over fixed leaf ranges. ``inclusion_ranges`` and
``consistency_ranges`` name those ranges without touching any hash, so a store that keeps interior
nodes (see ``andon.ledger.tree``) can fetch exactly what a proof needs instead of every leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of all ``leaf_hashes`` (SHA-256 of nothing for an empty tree)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return subtree_root(leaf_hashes)


def subtree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a non-empty run of leaf hashes, computed level by level.

    Pairing bottom-up and promoting a lone last node unchanged gives the same hash as RFC 6962's
    split at the largest power of two, and lets each level run as one list comprehension.
    """
    level = list(leaf_hashes)
    if not level:
        raise ValueError("a subtree needs at least one leaf")
    sha = _sha256
    while len(level) > 1:
        paired = [sha(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges [start, end) whose subtree hashes form the inclusion proof of ``index`` in ``size``.

    Ordered as RFC 6962 PATH: the sibling nearest the leaf first.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    out: list[tuple[int, int]] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose subtree hashes form the consistency proof from ``size1`` to ``size2``.

    Ordered as RFC 6962 PROOF(m, D[n]).
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}; need 0 < size1 <= size2")
    out: list[tuple[int, int]] = []
    start, end, m, whole = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                out.append((start, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, whole = start + k, m - k, False
    out.reverse()
    return out


def _from_list(leaf_hashes: Sequence[bytes], size: int) -> Callable[[int, int], bytes]:
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaves given")
    return lambda start, end: subtree_root(leaf_hashes[start:end])


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 6962 inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves."""
    subtree = _from_list(leaf_hashes, size)
    return [subtree(a, b) for a, b in inclusion_ranges(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """RFC 6962 consistency proof that the tree of ``size1`` leaves is a prefix of ``size2``."""
    subtree = _from_list(leaf_hashes, size2)
    return [subtree(a, b) for a, b in consistency_ranges(size1, size2)]


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(*, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows ``leaf_hash`` at ``index`` in the tree (size, root) (RFC 9162 2.1.3.2)."""
    if not (0 <= index < size) or not _well_formed(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(*, size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` shows the tree (size1, root1) is a prefix of (size2, root2) (RFC 9162 2.1.4.2).

    A proof from the empty tree is refused: it would prove nothing about any content.
    """
    if not (0 < size1 <= size2) or not _well_formed(root1, root2, *proof):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    path = list(proof)
    if not path:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size (a Merkle mountain range).

    Appending reports every complete subtree it finishes through ``on_node(level, position, hash)``;
    that is how the store learns which interior nodes to keep.
    """

    __slots__ = ("hashes", "on_node", "report_from", "size")

    def __init__(
        self,
        *,
        size: int = 0,
        hashes: Sequence[bytes] = (),
        on_node: Callable[[int, int, bytes], None] | None = None,
        report_from: int = 1,
    ) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} holds {size.bit_count()} hashes, not {len(hashes)}"
            )
        self.size = size
        self.hashes = list(hashes)  # biggest (leftmost) subtree first
        self.on_node = on_node
        self.report_from = report_from  # the lowest level worth reporting to on_node

    def root(self) -> bytes:
        """The Merkle tree hash of everything appended so far."""
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def append_leaves(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append leaf hashes, hashing whole aligned blocks level by level for speed."""
        done, total = 0, len(leaf_hashes)
        while done < total:
            align = (self.size & -self.size) if self.size else 1 << 62
            block = min(align, 1 << ((total - done).bit_length() - 1))
            level_count = block.bit_length() - 1
            self._append_block(leaf_hashes[done : done + block], level_count)
            done += block

    def _append_block(self, block: Sequence[bytes], levels: int) -> None:
        sha = _sha256
        start = self.size
        level = list(block)
        report = self.on_node
        for height in range(1, levels + 1):
            level = [sha(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=True)]
            if report is not None and height >= self.report_from:
                first = start >> height
                for offset, h in enumerate(level):
                    report(height, first + offset, h)
        self._push(levels, level[0])

    def _push(self, height: int, h: bytes) -> None:
        """Add a complete subtree of 2**height leaves, merging equal neighbours on the left."""
        position = self.size >> height
        self.size += 1 << height
        while self.hashes and position & 1:
            h = node_hash(self.hashes.pop(), h)
            height += 1
            position >>= 1
            if self.on_node is not None and height >= self.report_from:
                self.on_node(height, position, h)
        self.hashes.append(h)


def inclusion_proofs(
    leaf_hashes: Sequence[bytes], indexes: Sequence[int], size: int
) -> dict[int, list[bytes]]:
    """Inclusion proofs of many leaves at once, from every level of the tree built in memory.

    Building bottom-up with a lone last node promoted unchanged gives RFC 6962's tree, and a
    leaf's audit path is then its sibling at each level where it has one.
    """
    if size > len(leaf_hashes):
        raise ValueError(f"tree size {size} exceeds the {len(leaf_hashes)} leaves given")
    levels = [list(leaf_hashes[:size])]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [_sha256(b"\x01" + a + b).digest() for a, b in zip(below[0::2], below[1::2], strict=False)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    proofs: dict[int, list[bytes]] = {}
    for index in indexes:
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
        path, position = [], index
        for level in levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            position >>= 1
        proofs[index] = path
    return proofs
