"""Fill msgstr entries of a .po file from a JSON mapping {msgid: msgstr}.

Usage: python scripts/po_fill.py tidsnok/web/locale/nb/LC_MESSAGES/django.po mapping.json
Only single-line msgids without plural forms are filled; others are reported.
"""

import json
import re
import sys


def fill(po_path: str, mapping: dict) -> list[str]:
    text = open(po_path, encoding="utf-8").read()
    missing = []

    def repl(match):
        msgid = json.loads(match.group(1))
        if msgid in mapping:
            return f'msgid {match.group(1)}\nmsgstr {json.dumps(mapping[msgid], ensure_ascii=False)}'
        if match.group(2) == '""':
            missing.append(msgid)
        return match.group(0)

    text = re.sub(r'^msgid ("(?:[^"\\]|\\.)*")\nmsgstr ("(?:[^"\\]|\\.)*")', repl, text, flags=re.M)
    text = text.replace("#, fuzzy\n", "", 1)
    open(po_path, "w", encoding="utf-8").write(text)
    return missing


if __name__ == "__main__":
    left = fill(sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8")))
    for msgid in left:
        print("untranslated:", msgid)
