"""What an upload is stored as: a safe file name and a valid media type, whatever was sent.
A client controls both, and both reach the Runtime, its storage and every client that reads the
artifact back; so the name is reduced to a plain base name and the type to an RFC 9110 media type
before anything is submitted. Nothing here refuses an upload: a name is cleaned (never empty) and
a media type that is not one becomes `application/octet-stream`, which the artifact's `mimeType`
then shows.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass

DEFAULT_MIME_TYPE = "application/octet-stream"
MAX_FILENAME_BYTES = 255
"""The longest stored name, in UTF-8 bytes: what common file systems allow for one name."""
FALLBACK_STEM = "upload"
"""The name of a file whose name has nothing left once cleaned (its extension kept)."""
MAX_MIME_TYPE_LENGTH = 255
# An extension is kept through trimming only when it looks like one: short, and no spaces.
_MAX_EXTENSION_BYTES = 32
# Controls (C0, DEL, C1), lone surrogates (not encodable) and invisible format characters
# (bidirectional overrides that make "cod.exe" display as "exe.doc", zero-width characters).
_REMOVED_CATEGORIES = frozenset({"Cc", "Cs", "Cf"})
_PATH_SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")

# RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ), a parameter's value a token or a
# quoted string. Only ASCII is accepted (the RFC's obs-text is obsolete).
_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_PARAMETER = rf"[ \t]*;[ \t]*(?:{_TCHARS}=(?:{_TCHARS}|{_QUOTED_STRING}))?"
_MEDIA_TYPE = re.compile(rf"({_TCHARS})/({_TCHARS})((?:{_PARAMETER})*)")


@dataclass(frozen=True, slots=True)
class UploadMetadata:
    """The name and media type an upload is stored under."""

    filename: str
    mime_type: str
    mime_type_replaced: bool = False
    """True when the media type given was not one and `application/octet-stream` stands in."""


def upload_metadata(
    filename: str | None, mime_type: str | None, sent_mime_type: str | None
) -> UploadMetadata:
    """The stored name and media type for what the caller gave and the part carried.

    The media type is `mime_type` (what the caller asked for, parameters allowed), else
    `sent_mime_type` (the part's `Content-Type`, parameters dropped) unless that says nothing,
    else a guess from the cleaned name. One given but invalid is replaced by
    `application/octet-stream` (and `mime_type_replaced` says so), never guessed around.
    """
    asked = (mime_type or "").strip()
    sent = (sent_mime_type or "").strip()
    replaced = False
    if asked:
        media_type = valid_media_type(asked)
    elif sent:
        media_type = valid_media_type(sent, parameters=False)
        if media_type == DEFAULT_MIME_TYPE:
            # What browsers and curl send when they do not know: the name knows better.
            media_type = ""
    else:
        media_type = ""
    if media_type is None:
        media_type, replaced = DEFAULT_MIME_TYPE, True
    name = safe_filename(filename, mime_type=media_type.split(";", 1)[0] or None)
    return UploadMetadata(name, media_type or guess_mime_type(name), replaced)


def valid_media_type(value: str, *, parameters: bool = True) -> str | None:
    """`value` as an RFC 9110 media type (type and subtype lower-cased), or None when it is not
    one. Without `parameters`, any are dropped from a valid value."""
    if len(value) > MAX_MIME_TYPE_LENGTH:
        return None
    match = _MEDIA_TYPE.fullmatch(value.strip())
    if match is None:
        return None
    kind, subtype, rest = match.groups()
    essence = f"{kind.lower()}/{subtype.lower()}"
    if not parameters or not rest.strip(" \t;"):
        return essence
    return essence + rest.rstrip(" \t")


def safe_filename(name: str | None, *, mime_type: str | None = None) -> str:
    """`name` as a plain base name: never empty, `.` or `..`; no directory part (`/` or `\\`),
    drive, control, surrogate or invisible format character; NFC; at most 255 UTF-8 bytes, its
    extension kept through trimming when it has one.

    A name with nothing left (or only an extension, like `.csv`) is `upload` plus that
    extension, or one guessed from `mime_type`.
    """
    cleaned = "".join(
        char for char in name or "" if unicodedata.category(char) not in _REMOVED_CATEGORIES
    )
    cleaned = unicodedata.normalize("NFC", cleaned)
    components = [part.strip() for part in _PATH_SEPARATORS.split(cleaned)]
    base = next((part for part in reversed(components) if part not in ("", ".", "..")), "")
    base = _DRIVE.sub("", base).strip()
    if base.startswith("."):
        # Hidden on most systems, and "." or ".." as it stands: keep what follows as extension.
        base = FALLBACK_STEM + base if base.strip(".") else ""
    if not base:
        extension = mimetypes.guess_extension(mime_type, strict=False) if mime_type else None
        base = FALLBACK_STEM + (extension or "")
    return _trimmed(base)


def _trimmed(name: str) -> str:
    """`name` cut to `MAX_FILENAME_BYTES` on a character boundary, keeping a short extension."""
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    extension = dot + suffix
    if not stem or " " in suffix or len(extension.encode("utf-8")) > _MAX_EXTENSION_BYTES:
        stem, extension = name, ""
    room = MAX_FILENAME_BYTES - len(extension.encode("utf-8"))
    stem = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip()
    # A prefix of an NFC string cut between code points is NFC, and so is the whole.
    return (stem or FALLBACK_STEM) + extension


def guess_mime_type(filename: str) -> str:
    """The media type the name suggests, else `application/octet-stream`."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_MIME_TYPE
