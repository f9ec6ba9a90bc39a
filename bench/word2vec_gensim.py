"""gensim's Word2Vec on the text and settings of gradus's word2vec examples, for words per second
side by side (skip-gram, dim 100, window 5, 5 negatives, min_count 5, sample 1e-3).

    python bench/word2vec_gensim.py [--text PATH] [--epochs 3] [--workers 2] [--words a,b,c]
    python bench/word2vec_gensim.py --text PATH --rounds 5 --gradus "CMD"   # alternated rounds

Tokens as gradus's `tokenize`: lower-cased runs of ASCII letters and inner apostrophes; a Project
Gutenberg file is cut to what lies between its START and END lines, as the gradus example does.
The text is one stream cut into 10,000-token pieces (gensim's longest sentence). Prints words/s
(tokens of the vocabulary over all epochs / training seconds, as the gradus examples count) and
the nearest neighbours of the words.

With --rounds N, each round runs gensim and then CMD (a gradus example printing "N words/s"),
each in a fresh process, so both see the same moments of a shared machine; then the medians and
the median of the per-round ratios (gradus / gensim: > 1 means gradus is faster). CMD gets
RAYON_NUM_THREADS = --workers, which the word2vec example takes as its THREADS when not given
(`sgd` on 2 threads runs Hogwild, as gensim's 2 workers).
"""
import argparse, os, re, shlex, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS_PER_S = re.compile(r"([0-9.]+) words/s")


def gutenberg_body(text):
    start, end = text.find("*** START OF"), text.find("*** END OF")
    if start >= 0:
        text = text[text.index("\n", start) + 1:end if end > start else len(text)]
    return text


def train(args):
    from gensim.models import Word2Vec

    text = gutenberg_body(open(os.path.join(ROOT, args.text), encoding="utf-8").read())
    tokens = [t.strip("'").lower() for t in re.split(r"[^A-Za-z']+", text)]
    tokens = [t for t in tokens if t]
    sentences = [tokens[i:i + 10000] for i in range(0, len(tokens), 10000)]
    model = Word2Vec(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, sg=1,
                     workers=args.workers, seed=0)
    model.build_vocab(sentences)
    words = sum(1 for t in tokens if t in model.wv.key_to_index) * args.epochs
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    secs = time.perf_counter() - start
    print(f"gensim {words / secs:.0f} words/s ({words} words in {secs:.1f} s, {args.workers} "
          f"workers), {len(tokens)} tokens, vocabulary {len(model.wv)}")
    for w in args.words.split(","):
        if w in model.wv.key_to_index:
            print(f"{w:>8}: " + ", ".join(f"{x} {s:.2f}" for x, s in model.wv.most_similar(w, topn=6)))


def alternate(args):
    me = [sys.executable, os.path.abspath(__file__), "--text", args.text, "--epochs",
          str(args.epochs), "--workers", str(args.workers), "--words", args.words]
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.workers))
    rates = {"gensim": [], "gradus": []}
    for r in range(args.rounds):
        for side, cmd in [("gensim", me), ("gradus", shlex.split(args.gradus))]:
            out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
            m = WORDS_PER_S.search(out.stdout)
            if not m:
                sys.exit(f"{side} printed no words/s: {out.stdout[-300:]} {out.stderr[-300:]}")
            rates[side].append(float(m.group(1)))
            if r == 0:
                print(out.stdout.rstrip())
        print(f"round {r + 1}: gensim {rates['gensim'][-1]:.0f}, gradus {rates['gradus'][-1]:.0f} words/s",
              flush=True)
    ratio = statistics.median(g / p for g, p in zip(rates["gradus"], rates["gensim"]))
    print(f"median words/s: gensim {statistics.median(rates['gensim']):.0f}, gradus "
          f"{statistics.median(rates['gradus']):.0f}; median ratio gradus/gensim {ratio:.2f} "
          f"({args.rounds} rounds, {args.workers} threads each)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default="data/tinyshakespeare/input.txt",
                    help="relative to the repository root")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--words", default="king,love,death,lord,night,father")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--gradus", help="the gradus command of --rounds")
    args = ap.parse_args()
    if args.rounds:
        if not args.gradus:
            sys.exit("--rounds needs --gradus CMD")
        alternate(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
