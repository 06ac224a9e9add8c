"""Reading a GraphQL multipart request (the multipart request spec): `operations`, `map`, files.
Strawberry's own reading takes the last of repeated parts, lets a map name one path twice or name
paths that do not exist (adding them), and ignores files the map does not name; here each of those
is a 400 with code `BAD_REQUEST`, and so is a body with more parts than any upload needs (which
starlette would refuse in its own `{"detail": ...}` shape).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from cross_web import HTTPException
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from experience_plane.negotiation import BAD_REQUEST

MAX_FILE_PARTS = 32
"""The most files one multipart request may carry; a `map` may still name each several times."""
MAX_FIELD_PARTS = 2
"""The most non-file parts: the spec has two, `operations` and `map`."""
MULTIPART_FORM_DATA = "multipart/form-data"
MALFORMED = (
    "Malformed multipart request: `operations` must be a GraphQL request object and `map` an "
    "object mapping each sent file to paths of null variables"
)


class MultipartRefused(HTTPException):
    """A multipart request refused with a 400 and a code (`BAD_REQUEST`)."""

    code = BAD_REQUEST

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


def is_multipart(request: Request) -> bool:
    """True for a `multipart/form-data` body."""
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == MULTIPART_FORM_DATA


async def read_form(request: Request) -> None:
    """Read (and spool) the multipart body, at most `MAX_FILE_PARTS` files and
    `MAX_FIELD_PARTS` other parts; starlette keeps the form for Strawberry's reading.

    Raises `MultipartRefused` for too many parts or a body that is not multipart at all.
    """
    try:
        await request.form(max_files=MAX_FILE_PARTS, max_fields=MAX_FIELD_PARTS)
    except StarletteHTTPException as exc:  # starlette's answer to python-multipart's errors
        raise MultipartRefused(
            f"The multipart body could not be read: {exc.detail} A GraphQL upload has "
            f"`operations`, `map` and at most {MAX_FILE_PARTS} files."
        ) from exc


def operations_with_files(form: FormData, parse_json: Callable[[str], object]) -> Any:
    """`operations` with each file put where `map` says, checked as the spec asks: no part
    repeated, each path named once, each named path a null in `operations`, each file named."""
    parts = Counter(name for name, _ in form.multi_items())
    repeated = sorted(name for name, count in parts.items() if count > 1)
    if repeated:
        raise MultipartRefused(f"The multipart body repeats the part(s) {repeated}.")
    # The router's `parse_json` refuses a part that is not JSON (or beyond `json_input`'s
    # limits) with its own 400 and code.
    operations = parse_json(_text(form.get("operations"), "operations"))
    files_map = parse_json(_text(form.get("map"), "map"))
    if not isinstance(operations, dict | list) or not _is_map(files_map):
        raise MultipartRefused(f"{MALFORMED}.")
    files = {name: value for name, value in form.multi_items() if isinstance(value, UploadFile)}
    unknown = sorted(set(files_map) - set(files))
    if unknown:
        raise MultipartRefused(f"The map names file part(s) that were not sent: {unknown}.")
    unmapped = sorted(set(files) - set(files_map))
    if unmapped:
        raise MultipartRefused(f"File part(s) the map does not name: {unmapped}.")
    paths = Counter(path for targets in files_map.values() for path in targets)
    twice = sorted(path for path, count in paths.items() if count > 1)
    if twice:
        raise MultipartRefused(f"The map names the path(s) {twice} more than once.")
    for name, targets in files_map.items():
        for path in targets:
            _place(operations, path, files[name])
    return operations


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise MultipartRefused(f"{MALFORMED}: the `{name}` part is missing or is a file.")
    return value


def _is_map(value: object) -> TypeGuard[Mapping[str, list[str]]]:
    return isinstance(value, Mapping) and all(
        isinstance(targets, list) and all(isinstance(path, str) for path in targets)
        for targets in value.values()
    )


def _place(operations: object, path: str, file: UploadFile) -> None:
    """Put `file` at `path` (`variables.file`, `0.variables.files.1`), which must hold null."""
    *parents, last = path.split(".")
    target = operations
    try:
        for key in parents:
            target = _child(target, key)
        if _child(target, last) is not None:
            raise LookupError(path)
    except LookupError as exc:
        raise MultipartRefused(
            f"The map path {path!r} is not a null value in `operations`."
        ) from exc
    if isinstance(target, list):
        target[int(last)] = file
    else:
        target[last] = file  # type: ignore[index] # `_child` found it: a dict


def _child(value: object, key: str) -> object:
    """`value[key]` for a dict, or at a non-negative index for a list; `LookupError` else."""
    if isinstance(value, dict) and key in value:
        return value[key]
    if isinstance(value, list) and key.isascii() and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    raise LookupError(key)
