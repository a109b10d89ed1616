"""Attachments to reports and messages: which files, how large, and cleaning them.

Only PDF, pictures (JPEG, PNG), office documents (Word, Excel, PowerPoint,
OpenDocument) and plain text are taken, recognised by their content as well as
their name; the type stored is the one tidsnok recognised, never the one the
browser claimed. Files are held in memory only (never in a temporary file on
disk, see UploadHandler) and stored encrypted in the database.

Files can say who made them. Pictures lose their metadata (Exif with GPS
position and camera serial, XMP, IPTC, comments); Office and OpenDocument
files lose their document properties (author, last modified by, company). PDF
and the old binary Office formats cannot be cleaned here: the form says so.
"""

import io
import re
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
# Room for the form fields around the files in a request.
MAX_REQUEST_BYTES = MAX_TOTAL_BYTES + 1024 * 1024

ZIP = b"PK\x03\x04"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OOXML = "ooxml"
ODF = "odf"

# extension -> (content type, magic bytes, cleaner)
TYPES = {
    "pdf": ("application/pdf", b"%PDF-", None),
    "jpg": ("image/jpeg", b"\xff\xd8\xff", "jpeg"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff", "jpeg"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n", "png"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP, OOXML),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP, OOXML),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ZIP, OOXML),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP, ODF),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP, ODF),
    "odp": ("application/vnd.oasis.opendocument.presentation", ZIP, ODF),
    "doc": ("application/msword", OLE, None),
    "xls": ("application/vnd.ms-excel", OLE, None),
    "ppt": ("application/vnd.ms-powerpoint", OLE, None),
    "txt": ("text/plain", b"", "text"),
}
ACCEPT = ",".join(f".{ext}" for ext in TYPES)
HELP = gettext_lazy(
    "At most 5 files of 10 MB each (20 MB in all): PDF, JPEG or PNG pictures, Word, Excel, PowerPoint, "
    "OpenDocument or plain text. Pictures and Word, Excel, PowerPoint and OpenDocument files are cleaned of "
    "author and location data. PDF files and old Office files (.doc, .xls, .ppt) may still contain your name in "
    "their properties: remove it first if you want to stay anonymous."
)


@dataclass(frozen=True)
class CleanFile:
    name: str
    content_type: str
    data: bytes


def _safe_name(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip() or "vedlegg"
    return name[:200]


def clean_files(files) -> list[CleanFile]:
    """Check and clean uploaded files; ValidationError({"attachments": [...]}) if any is refused."""
    files = [f for f in files if f is not None]
    errors = []
    if len(files) > MAX_FILES:
        raise ValidationError({"attachments": [_("Attach at most %(count)d files.") % {"count": MAX_FILES}]})
    total = 0
    cleaned = []
    for upload in files:
        name = _safe_name(getattr(upload, "name", ""))
        data = upload.read() if hasattr(upload, "read") else bytes(upload)
        total += len(data)
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext not in TYPES:
            errors.append(_("%(name)s: this type of file is not accepted.") % {"name": name})
            continue
        if not data:
            errors.append(_("%(name)s is empty.") % {"name": name})
            continue
        if len(data) > MAX_FILE_BYTES:
            errors.append(_("%(name)s is larger than 10 MB.") % {"name": name})
            continue
        content_type, magic, cleaner = TYPES[ext]
        if magic and not data.startswith(magic):
            errors.append(_("%(name)s is not the kind of file its name says.") % {"name": name})
            continue
        try:
            data = clean(cleaner, data)
        except (ValueError, zipfile.BadZipFile, UnicodeDecodeError, KeyError, EOFError):
            errors.append(_("%(name)s could not be read.") % {"name": name})
            continue
        cleaned.append(CleanFile(name=name, content_type=content_type, data=data))
    if total > MAX_TOTAL_BYTES:
        errors.append(_("The files are larger than 20 MB in all."))
    if errors:
        raise ValidationError({"attachments": errors})
    return cleaned


def clean(cleaner: str | None, data: bytes) -> bytes:
    if cleaner == "jpeg":
        return strip_jpeg(data)
    if cleaner == "png":
        return strip_png(data)
    if cleaner == OOXML:
        return _rewrite_zip(data, OOXML_PROPERTIES)
    if cleaner == ODF:
        return _rewrite_zip(data, ODF_PROPERTIES)
    if cleaner == "text":
        data.decode("utf-8")
        return data
    return data


# --- pictures -------------------------------------------------------------------------------------

# APP1 (Exif, XMP), APP12 (Ducky/picture info), APP13 (Photoshop, IPTC), COM (comments).
_JPEG_DROP = {0xE1, 0xEC, 0xED, 0xFE}


def strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out = bytearray(b"\xff\xd8")
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("bad marker")
        while i < len(data) and data[i] == 0xFF:
            i += 1
        if i >= len(data):
            raise ValueError("truncated")
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image
            out += b"\xff\xd9"
            return bytes(out)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            out += bytes((0xFF, marker))
            continue
        if i + 2 > len(data):
            raise ValueError("truncated")
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > len(data):
            raise ValueError("bad length")
        segment = data[i : i + length]
        i += length
        if marker == 0xDA:  # start of scan: the picture data follows to the end
            out += bytes((0xFF, marker)) + segment + data[i:]
            return bytes(out)
        if marker not in _JPEG_DROP:
            out += bytes((0xFF, marker)) + segment
    raise ValueError("no picture data")


_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


def strip_png(data: bytes) -> bytes:
    signature = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(signature):
        raise ValueError("not a PNG")
    out = bytearray(signature)
    i = len(signature)
    while i < len(data):
        if i + 8 > len(data):
            raise ValueError("truncated")
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise ValueError("truncated")
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("no end")


# --- office documents -----------------------------------------------------------------------------

OOXML_PROPERTIES = {
    "docProps/core.xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    ),
    "docProps/app.xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>'
    ),
    "docProps/custom.xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"/>'
    ),
}
ODF_PROPERTIES = {
    "meta.xml": (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        b'office:version="1.2"><office:meta/></office:document-meta>'
    ),
}
_MAX_UNZIPPED = 200 * 1024 * 1024


def _rewrite_zip(data: bytes, replacements: dict[str, bytes]) -> bytes:
    """The same archive, entry for entry and in order, with the property parts replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    infos = source.infolist()
    if sum(info.file_size for info in infos) > _MAX_UNZIPPED:
        raise ValueError("too large unpacked")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in infos:
            content = replacements.get(info.filename)
            if content is None:
                content = source.read(info)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


# --- receiving uploads ----------------------------------------------------------------------------


class UploadHandler(FileUploadHandler):
    """Keep uploaded files in memory, never in a temporary file on disk, and stop
    reading a request that is larger than the limits allow."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.total = 0
        self.too_large = content_length > MAX_REQUEST_BYTES
        if self.too_large:
            self.request.tidsnok_upload_too_large = True

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.too_large or self.total > MAX_TOTAL_BYTES:
            self.request.tidsnok_upload_too_large = True
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        from django.core.files.uploadedfile import InMemoryUploadedFile

        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer, field_name=self.field_name, name=self.file_name, content_type=self.content_type,
            size=file_size, charset=self.charset, content_type_extra=self.content_type_extra,
        )
