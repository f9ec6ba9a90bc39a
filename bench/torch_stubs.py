"""Build do-nothing stand-ins for the CUDA libraries that PyPI's Linux torch wheel links to.

PyPI ships only a CUDA build of torch for Linux x86_64; its .so files list libcudart,
libcublas, libcudnn, ... as NEEDED, so `import torch` fails without ~2.3 GB of nvidia-*
wheels. For CPU benchmarking none of that code runs, so we satisfy the dynamic loader
with tiny stub libraries in torch/lib (every function returns an error code, so torch
sees no GPU). Usage: python torch_stubs.py <site-packages/torch/lib>  (needs readelf, cc)
"""
import collections, os, re, subprocess, sys, tempfile


def readelf(flag, path):
    return subprocess.run(["readelf", "-W", flag, path], capture_output=True, text=True).stdout


lib = sys.argv[1]
is_cuda = re.compile(r"lib(cu|nccl|nvrtc|nvshmem)")
needed, ver_file, syms = set(), {}, collections.defaultdict(set)  # syms: version -> names
objects = set()  # data symbols: defined as zeroed storage instead of functions
for f in (f for f in os.listdir(lib) if f.endswith(".so")):
    path = os.path.join(lib, f)
    needed |= set(re.findall(r"NEEDED.*\[(.+?)\]", readelf("-d", path)))
    cur = None
    for line in readelf("-V", path).splitlines():  # map version names to the file providing them
        if m := re.search(r"File: (\S+)", line):
            cur = m.group(1)
        elif (m := re.search(r"Name: (\S+)", line)) and cur:
            ver_file[m.group(1)] = cur
    for p in (l.split() for l in readelf("--dyn-syms", path).splitlines()):
        if len(p) >= 8 and p[6] == "UND" and p[3] in ("FUNC", "NOTYPE", "OBJECT") and re.match(r"_*(cu|nccl|nvrtc|nvshmem)", p[7]):
            name, _, ver = p[7].partition("@")
            syms[ver].add(name)
            if p[3] == "OBJECT":
                objects.add(name)
returns_text = re.compile(r"(ErrorString|ErrorName|StatusString|GetString)$")
for soname in sorted(n for n in needed if is_cuda.match(n)):
    versions = [v for v in syms if v and ver_file.get(v) == soname]
    names = set(syms[""]).union(*(syms[v] for v in versions))  # unversioned ones go everywhere
    src = ['static const char msg[] = "CUDA stub: CPU-only torch";']
    for s in sorted(names):  # functions return 100 = cudaErrorNoDevice
        src.append(f"char {s}[256];" if s in objects else f"const char *{s}(void) {{ return msg; }}"
                   if returns_text.search(s) else f"int {s}(void) {{ return 100; }}")
    tmp = tempfile.mkdtemp()
    open(f"{tmp}/s.c", "w").write("\n".join(src) + "\n")
    cmd = ["cc", "-shared", "-fPIC", "-w", "-o", os.path.join(lib, soname), f"-Wl,-soname,{soname}", f"{tmp}/s.c"]
    if versions:
        open(f"{tmp}/s.map", "w").write("".join(f"{v} {{ global: *; }};\n" for v in versions[:1]))
        cmd.append(f"-Wl,--version-script={tmp}/s.map")
    subprocess.run(cmd, check=True)
    print(f"stub {soname}: {len(names)} symbols, version {versions or '-'}")
