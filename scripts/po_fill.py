"""Fill msgstr entries of a .po file from a JSON mapping {msgid: msgstr}.

Usage: python scripts/po_fill.py tidsnok/web/locale/nb/LC_MESSAGES/django.po mapping.json

The msgid is the whole text, however makemessages wrapped it over lines. For a
plural entry (msgid_plural) the value is a list: [singular, plural]. A filled
entry loses its "fuzzy" flag; so does the header. Untranslated msgids left in
the file are reported.
"""

import json
import re
import sys

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$')
_CONTINUATION = re.compile(r'^(".*")$')


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class Entry:
    def __init__(self, lines: list[str]):
        self.comments: list[str] = []
        self.fields: dict[str, str] = {}
        self.order: list[str] = []
        self.raw = lines
        current = None
        for line in lines:
            if line.startswith("#"):
                self.comments.append(line)
                continue
            match = _KEYWORD.match(line)
            if match:
                current = match.group(1)
                self.order.append(current)
                self.fields[current] = json.loads(match.group(2))
                continue
            match = _CONTINUATION.match(line)
            if match and current is not None:
                self.fields[current] += json.loads(match.group(1))

    @property
    def is_message(self) -> bool:
        return "msgid" in self.fields

    @property
    def is_header(self) -> bool:
        return self.fields.get("msgid") == "" and "msgctxt" not in self.fields

    @property
    def obsolete(self) -> bool:
        return all(line.startswith("#~") for line in self.raw if line.strip())

    def translated(self) -> bool:
        strings = [v for k, v in self.fields.items() if k.startswith("msgstr")]
        return bool(strings) and all(strings)

    def fill(self, value) -> None:
        if "msgid_plural" in self.fields:
            values = value if isinstance(value, list) else [value, value]
            for key in [k for k in self.order if k.startswith("msgstr[")]:
                index = int(key[7:-1])
                self.fields[key] = values[min(index, len(values) - 1)]
        else:
            self.fields["msgstr"] = value
        self.unfuzz()

    def unfuzz(self) -> None:
        fixed = []
        for line in self.comments:
            if line.startswith("#,"):
                flags = [f.strip() for f in line[2:].split(",") if f.strip() and f.strip() != "fuzzy"]
                if not flags:
                    continue
                line = "#, " + ", ".join(flags)
            fixed.append(line)
        # A fuzzy entry may carry the msgid it was guessed from: no longer true.
        self.comments = [c for c in fixed if not c.startswith("#|")]

    def render(self) -> list[str]:
        if not self.is_message:
            return self.raw
        lines = list(self.comments)
        for key in self.order:
            value = self.fields[key]
            if self.is_header and key == "msgstr":
                lines.append('msgstr ""')
                lines.extend(_quote(part) for part in value.splitlines(keepends=True))
            else:
                lines.append(f"{key} {_quote(value)}")
        return lines


def _blocks(text: str) -> list[list[str]]:
    """Entries are separated by blank lines, or simply follow each other: a
    comment or a msgctxt/msgid after a msgstr starts the next entry."""
    blocks, current, seen_msgstr = [], [], False
    for line in text.splitlines():
        starts_entry = line.startswith(("#", "msgctxt ", "msgid ")) and not line.startswith("#~")
        if line.strip() == "" or (starts_entry and seen_msgstr):
            if current:
                blocks.append(current)
            current, seen_msgstr = [], False
            if line.strip() == "":
                continue
        current.append(line)
        if line.startswith("msgstr"):
            seen_msgstr = True
    if current:
        blocks.append(current)
    return blocks


def fill(po_path: str, mapping: dict) -> list[str]:
    entries = [Entry(block) for block in _blocks(open(po_path, encoding="utf-8").read())]
    missing = []
    for entry in entries:
        if not entry.is_message or entry.obsolete:
            continue
        if entry.is_header:
            entry.unfuzz()
            continue
        msgid = entry.fields["msgid"]
        if msgid in mapping:
            entry.fill(mapping[msgid])
        elif not entry.translated():
            missing.append(msgid)
    with open(po_path, "w", encoding="utf-8") as handle:
        handle.write("\n\n".join("\n".join(entry.render()) for entry in entries) + "\n")
    return missing


if __name__ == "__main__":
    left = fill(sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8")))
    for msgid in left:
        print("untranslated:", msgid)
