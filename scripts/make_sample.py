#!/usr/bin/env python3
"""Builds sample/wordnet-sample.jsonl from Debian's wordnet-base.

Takes a few WordNet noun subtrees (musical instruments, fruit, dogs, trees,
buildings) and their ancestors up to 'entity', and writes one node per synset
in the engine's JSONL import format, parents before children. Standard library
only; deterministic. Usage: make_sample.py [--wordnet DIR] [--out FILE]
"""
import argparse
import json
import os
import sys

SUBTREE_ROOTS = ["musical_instrument", "edible_fruit", "dog", "bird", "tree", "building",
                 "vehicle", "hand_tool"]


def parse_data_noun(path):
    synsets = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue  # license header
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            offset, lex_filenum = parts[0], int(parts[1], 10)
            w_cnt = int(parts[3], 16)
            words = [parts[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
            p_index = 4 + 2 * w_cnt
            p_cnt = int(parts[p_index])
            hypernyms = []
            for i in range(p_cnt):
                sym, target, pos = parts[p_index + 1 + 4 * i: p_index + 4 + 4 * i]
                if sym in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = {"words": words, "lex": lex_filenum,
                               "gloss": gloss.strip(), "parent": hypernyms[0] if hypernyms else None}
    return synsets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "sample",
                                                  "wordnet-sample.jsonl"))
    args = ap.parse_args()
    data = os.path.join(args.wordnet, "data.noun")
    if not os.path.exists(data):
        sys.exit(f"make_sample: {data} not found (apt-get install wordnet-base)")
    synsets = parse_data_noun(data)
    children = {}
    for off, s in synsets.items():
        children.setdefault(s["parent"], []).append(off)
    for kids in children.values():
        kids.sort(key=lambda o: synsets[o]["words"][0])

    by_word = {}
    for off, s in synsets.items():
        for w in s["words"]:
            by_word.setdefault(w.replace(" ", "_").lower(), off)
    keep = set()
    for word in SUBTREE_ROOTS:
        root = by_word[word]
        stack = [root]
        while stack:
            o = stack.pop()
            if o in keep:
                continue
            keep.add(o)
            stack.extend(children.get(o, []))
        p = synsets[root]["parent"]
        while p is not None:  # ancestors up to 'entity'
            keep.add(p)
            p = synsets[p]["parent"]

    lines = []

    def emit(off, depth):
        s = synsets[off]
        node = {"id": "wn-" + off, "parent_id": ("wn-" + s["parent"]) if s["parent"] else None,
                "node_type": "text", "content": ", ".join(s["words"]) + ": " + s["gloss"],
                "properties": {"synset": "n" + off, "lemmas": s["words"], "depth": depth}}
        lines.append(json.dumps(node, ensure_ascii=False))
        for c in children.get(off, []):
            if c in keep:
                emit(c, depth + 1)

    sys.setrecursionlimit(10000)
    for off in sorted(o for o in keep if synsets[o]["parent"] is None):
        emit(off, 0)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"make_sample: wrote {len(lines)} nodes to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
