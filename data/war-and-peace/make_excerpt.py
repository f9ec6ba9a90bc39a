"""Writes excerpt.txt: the opening of War and Peace (Project Gutenberg eBook #2600, the Maude
translation, public domain) in the 65 characters of tiny Shakespeare, so that the Shakespeare GPT
(examples/shakespeare-gpt.toml) can be fine-tuned on it with the same vocabulary
(examples/war-and-peace-lora.toml).

    python3 data/war-and-peace/make_excerpt.py ../shared/data/war-and-peace/2600-0.txt
    python3 data/war-and-peace/make_excerpt.py ../shared/data/war-and-peace/2600-0.txt --whole OUT

--whole writes the whole novel (to the end of its last epilogue, before Project Gutenberg's END
line) cleaned the same way to OUT instead, for the word2vec benchmark; it is not shipped.

Mapping: CRLF to LF; curly quotes and double quotes to ', dashes to -, accents dropped
(NFKD), ( ) to commas; any other character outside the vocabulary is removed. The text starts
at the second "BOOK ONE" (the first is in the table of contents) and ends at the last
paragraph break before CHARS characters.
"""
import os
import sys
import unicodedata

CHARS = 300_000
HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = set(open(os.path.join(HERE, "..", "tinyshakespeare", "input.txt"), encoding="utf-8").read())
MAP = {"\u201c": "'", "\u201d": "'", "\u2018": "'", "\u2019": "'", '"': "'", "\u2014": "-",
       "(": ",", ")": ","}


def clean(text):
    text = text.replace("\r\n", "\n")
    text = unicodedata.normalize("NFKD", text)
    out = []
    for ch in text:
        ch = MAP.get(ch, ch)
        if ch in VOCAB:
            out.append(ch)
    return "".join(out)


def main():
    src = open(sys.argv[1], encoding="utf-8").read()
    start = src.index("BOOK ONE", src.index("BOOK ONE") + 1)  # after the table of contents
    if len(sys.argv) == 4 and sys.argv[2] == "--whole":
        end = src.find("*** END OF")
        with open(sys.argv[3], "w", encoding="utf-8", newline="\n") as f:
            f.write(clean(src[start:end if end > 0 else len(src)]))
        return
    body = clean(src[start:start + 2 * CHARS])
    cut = body.rfind("\n\n", 0, CHARS)
    with open(os.path.join(HERE, "excerpt.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(body[:cut + 1])


if __name__ == "__main__":
    main()
