"""Regular expressions over message symbols, with interleaving, matched by partial derivatives.

The trace checker compiles a diagram into one expression: a message is a symbol, a sequence
is concatenation, alt is union, loop is a star (or a bounded repeat), par is the shuffle
(interleaving) of its branches. Antimirov's partial derivatives then act as an NFA built on
the fly: a state is an expression, reading a symbol maps a set of states to the set of their
derivatives. Expressions are hash-consed (equal ones are the same object) and derivatives are
memoised, so each state is computed once. Without shuffle an expression with n symbols has at
most n + 1 distinct states, so alternatives and loops never blow up; a par's states are
tuples of its branches' states, which is what interleaving costs in any automaton.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Op(Enum):
    EMPTY = "∅"  # matches nothing
    EPS = "ε"  # matches the empty sequence
    SYM = "sym"
    CAT = "·"
    ALT = "+"
    STAR = "*"
    SHUFFLE = "‖"


@dataclass(frozen=True, eq=False, slots=True)
class Expr:
    # eq=False: hash-consing makes identity the structural equality, and keeps hashing O(1).
    op: Op
    children: tuple[Expr, ...]
    symbol: int  # index into the checker's symbol table; -1 unless op is SYM
    nullable: bool  # matches the empty sequence
    serial: int  # creation order; sorts the operands of + and ‖ into one canonical form


class Algebra:
    """Builds expressions in canonical form and computes their derivatives."""

    def __init__(self) -> None:
        self._interned: dict[tuple[Op, tuple[int, ...], int], Expr] = {}
        self._derivatives: dict[tuple[int, frozenset[int]], frozenset[Expr]] = {}
        self._firsts: dict[int, frozenset[int]] = {}
        self.empty = self._make(Op.EMPTY, (), nullable=False)
        self.eps = self._make(Op.EPS, (), nullable=True)

    def __len__(self) -> int:
        """How many distinct expressions (automaton states) have been built so far."""
        return len(self._interned)

    def _make(
        self, op: Op, children: tuple[Expr, ...], *, nullable: bool, symbol: int = -1
    ) -> Expr:
        key = (op, tuple(c.serial for c in children), symbol)
        expr = self._interned.get(key)
        if expr is None:
            expr = Expr(op, children, symbol, nullable, len(self._interned))
            self._interned[key] = expr
        return expr

    # -- constructors ---------------------------------------------------------------------------

    def sym(self, symbol: int) -> Expr:
        return self._make(Op.SYM, (), nullable=False, symbol=symbol)

    def cat(self, first: Expr, second: Expr) -> Expr:
        if first is self.empty or second is self.empty:
            return self.empty
        if first is self.eps:
            return second
        if second is self.eps:
            return first
        if first.op is Op.CAT:  # keep concatenation right-nested: one form, fewer states
            return self.cat(first.children[0], self.cat(first.children[1], second))
        return self._make(Op.CAT, (first, second), nullable=first.nullable and second.nullable)

    def seq(self, parts: Iterable[Expr]) -> Expr:
        result = self.eps
        for part in reversed(list(parts)):
            result = self.cat(part, result)
        return result

    def alt(self, *options: Expr) -> Expr:
        flat: dict[int, Expr] = {}
        for option in options:
            for leaf in option.children if option.op is Op.ALT else (option,):
                if leaf is not self.empty:
                    flat[leaf.serial] = leaf
        if not flat:
            return self.empty
        if len(flat) == 1:
            return next(iter(flat.values()))
        children = tuple(flat[k] for k in sorted(flat))
        return self._make(Op.ALT, children, nullable=any(c.nullable for c in children))

    def opt(self, body: Expr) -> Expr:
        return self.alt(body, self.eps)

    def star(self, body: Expr) -> Expr:
        if body is self.empty or body is self.eps:
            return self.eps
        if body.op is Op.STAR:
            return body
        return self._make(Op.STAR, (body,), nullable=True)

    def repeat(self, body: Expr, low: int, high: int | None) -> Expr:
        """``body`` between ``low`` and ``high`` times (``None``: no upper bound)."""
        head = self.seq([body] * low)
        if high is None:
            return self.cat(head, self.star(body))
        tail = self.eps
        for _ in range(high - low):
            tail = self.opt(self.cat(body, tail))
        return self.cat(head, tail)

    def shuffle(self, left: Expr, right: Expr) -> Expr:
        if left is self.empty or right is self.empty:
            return self.empty
        if left is self.eps:
            return right
        if right is self.eps:
            return left
        if right.serial < left.serial:
            left, right = right, left
        return self._make(Op.SHUFFLE, (left, right), nullable=left.nullable and right.nullable)

    def interleave(self, parts: Iterable[Expr]) -> Expr:
        result = self.eps
        for part in parts:
            result = self.shuffle(result, part)
        return result

    # -- matching -------------------------------------------------------------------------------

    def derive(self, expr: Expr, matched: frozenset[int]) -> frozenset[Expr]:
        """The states ``expr`` can move to on an event that matches the symbols ``matched``."""
        key = (expr.serial, matched)
        cached = self._derivatives.get(key)
        if cached is None:
            cached = frozenset(d for d in self._derive(expr, matched) if d is not self.empty)
            self._derivatives[key] = cached
        return cached

    def _derive(self, expr: Expr, matched: frozenset[int]) -> Iterable[Expr]:
        op, children = expr.op, expr.children
        if op is Op.SYM:
            return (self.eps,) if expr.symbol in matched else ()
        if op is Op.ALT:
            return {d for c in children for d in self.derive(c, matched)}
        if op is Op.CAT:
            head, rest = children
            out = {self.cat(d, rest) for d in self.derive(head, matched)}
            if head.nullable:
                out |= self.derive(rest, matched)
            return out
        if op is Op.STAR:
            return {self.cat(d, expr) for d in self.derive(children[0], matched)}
        if op is Op.SHUFFLE:
            left, right = children
            return {self.shuffle(d, right) for d in self.derive(left, matched)} | {
                self.shuffle(left, d) for d in self.derive(right, matched)
            }
        return ()  # EMPTY, EPS

    def first(self, expr: Expr) -> frozenset[int]:
        """The symbols that can come next from ``expr``."""
        cached = self._firsts.get(expr.serial)
        if cached is None:
            cached = frozenset(self._first(expr))
            self._firsts[expr.serial] = cached
        return cached

    def _first(self, expr: Expr) -> set[int]:
        op, children = expr.op, expr.children
        if op is Op.SYM:
            return {expr.symbol}
        if op is Op.CAT:
            head, rest = children
            return set(self.first(head)) | (set(self.first(rest)) if head.nullable else set())
        return {s for c in children for s in self.first(c)}  # ALT, STAR, SHUFFLE; none for ε, ∅
