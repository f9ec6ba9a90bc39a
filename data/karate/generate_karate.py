"""Writes Zachary's karate club (networkx's copy) as edges.csv and clubs.csv.

Run from this folder: `python3 generate_karate.py` (needs networkx; 3.6.1 wrote the shipped
files). Nodes are numbered 0..33 as in networkx; `club` is 0 for "Mr. Hi" (the instructor,
node 0) and 1 for "Officer" (the administrator, node 33), the factions after the split.
"""
import networkx as nx

g = nx.karate_club_graph()
with open("edges.csv", "w") as f:
    f.write("source,target\n")
    for u, v in sorted(tuple(sorted(e)) for e in g.edges()):
        f.write(f"{u},{v}\n")
with open("clubs.csv", "w") as f:
    f.write("node,club\n")
    for n in sorted(g.nodes()):
        f.write(f"{n},{0 if g.nodes[n]['club'] == 'Mr. Hi' else 1}\n")
