"""gensim's Word2Vec on the text and settings of gradus's `word2vec` example, for words per second
side by side (skip-gram, dim 100, window 5, 5 negatives, min_count 5, sample 1e-3).

    python bench/word2vec_gensim.py [--epochs 3] [--workers 2]

Tokens as gradus's `tokenize`: lower-cased runs of ASCII letters and inner apostrophes. The text
is one stream cut into 10,000-token pieces (gensim's longest sentence). Prints words/s (tokens of
the vocabulary over all epochs / training seconds, as the gradus example counts) and the nearest
neighbours of the example's words.
"""
import argparse, os, re, time

from gensim.models import Word2Vec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--workers", type=int, default=2)
args = ap.parse_args()

text = open(os.path.join(ROOT, "data/tinyshakespeare/input.txt")).read()
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
print(f"gensim {words / secs:.0f} words/s ({words} words in {secs:.1f} s, {args.workers} workers), "
      f"vocabulary {len(model.wv)}")
for w in ["king", "love", "death", "lord", "night", "father"]:
    print(f"{w:>8}: " + ", ".join(f"{x} {s:.2f}" for x, s in model.wv.most_similar(w, topn=6)))
