"""Typed path parameters: `{name:id}` matches a UUID only, so a sibling path (`/api/users/login/`) is never
taken for an id, and a method it does not serve is a 405, not the id route's 400 or 404."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class IdConvertor(Convertor[str]):
    regex = UUID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", IdConvertor())
