"""A tiny evaluator of the CloudWatch metric-math forms the alarms use, for one period's datapoints.

Forms: numbers, series ids, + - * /, parentheses and FILL(series, number). A missing datapoint is None;
arithmetic with None is None (CloudWatch drops the point), division by zero is None, and FILL(x, v) is
v where x is None. Enough to show that an alarm's expression has a value when one series alone has data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")


class MathError(ValueError):
    pass


def evaluate(expression: str, values: Mapping[str, float | None]) -> float | None:
    tokens = [(number, name, symbol) for number, name, symbol in _TOKEN.findall(expression)]
    tokens = [token for token in tokens if any(token) and token != ("", "", " ")]
    parser = _Parser(tokens, values)
    result = parser.expression()
    if parser.position != len(tokens):
        raise MathError(f"unexpected input in {expression!r}")
    return result


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, str]], values: Mapping[str, float | None]) -> None:
        self.tokens = tokens
        self.values = values
        self.position = 0

    def _peek(self) -> str:
        if self.position >= len(self.tokens):
            return ""
        number, name, symbol = self.tokens[self.position]
        return number or name or symbol

    def _take(self) -> str:
        token = self._peek()
        self.position += 1
        return token

    def expression(self) -> float | None:
        value = self.term()
        while self._peek() in ("+", "-"):
            operator, right = self._take(), self.term()
            value = (
                None
                if value is None or right is None
                else value + right
                if operator == "+"
                else value - right
            )
        return value

    def term(self) -> float | None:
        value = self.factor()
        while self._peek() in ("*", "/"):
            operator, right = self._take(), self.factor()
            if value is None or right is None:
                value = None
            elif operator == "*":
                value = value * right
            else:
                value = None if right == 0 else value / right
        return value

    def factor(self) -> float | None:
        token = self._take()
        if token == "(":
            value = self.expression()
            self._expect(")")
            return value
        if token == "FILL":
            self._expect("(")
            series = self.values.get(self._take())
            self._expect(",")
            default = float(self._take())
            self._expect(")")
            return default if series is None else series
        if re.fullmatch(r"\d+(\.\d+)?", token):
            return float(token)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            if token not in self.values:
                raise MathError(f"unknown series {token}")
            return self.values[token]
        raise MathError(f"unexpected {token!r}")

    def _expect(self, symbol: str) -> None:
        if self._take() != symbol:
            raise MathError(f"expected {symbol!r}")
