#!/usr/bin/env python3
"""Regenerates pretokenize.json: splits of random texts by the qwen2 and gpt2
pre-tokenizer patterns, computed with the backtracking `regex` module (the
oracle for the hand-written scanners in pretokenize.go).
Run: python3 gen_pretokenize.py > pretokenize.json"""
import json, random
import regex

PATTERNS = {
    # llama.cpp's spelling of the qwen2 pattern
    "qwen2": r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
}

# Pieces chosen to hit every alternative; no U+001C..U+001F, which Python
# counts as \s but llama.cpp does not.
PIECES = [" ", "  ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u00a0", "\u3000", "\u2028", "\u0085",
          "a", "Z", "word", "ÉTÉ", "naïve", "日本", "ß", "ǅ", "ʰ", "Ω",
          "1", "42", "٣", "²", "½", "Ⅻ",
          "'", "'s", "'S", "'re", "'Ve", "'ll", "'LL", "'d", "'x", "'",
          ".", ",", "!?", "(", ")", "-", "_", "$", "€", "😀", "\u200b", "\u0301", "\x00", "\x7f", "#", "\"", "<|x|>"]

def main():
    rng = random.Random(20260511)
    texts = ["", " ", "  ", "a", " a", "  a", "a  ", "\n", " \n ", "x \n\t y", "don't", "I'M", "  12   34   "]
    for _ in range(400):
        texts.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14))))
    out = []
    for t in texts:
        row = {"text": t}
        for name, pat in PATTERNS.items():
            row[name] = regex.findall(pat, t)
            assert "".join(row[name]) == t, (name, t)
        out.append(row)
    print("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in out) + "\n]")

main()
