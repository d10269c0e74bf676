"""Stand-in CUDA libraries for the CPU variant of the bundle.

PyPI's Linux torch wheel is built with CUDA: libtorch*.so and torchvision's _C list libcudart, cuBLAS, cuDNN, NCCL …
(about 3.5 GB, shipped as nvidia-* wheels) as NEEDED, so the dynamic loader refuses to load torch without them, even
on a machine that will only ever compute on the CPU. Where a CPU wheel of the pinned torch cannot be installed (an
offline build machine, say), the CPU variant replaces each of those libraries by a stub of the same name that
exports the same symbols (same versions) and does nothing: every function returns an error code (999), and
cudaGetDeviceCount answers "no device" (count 0, cudaErrorNoDevice), so torch.cuda.is_available() is False and every
computation stays on the CPU kernels of libtorch_cpu.so, which are the very same bytes as in the venv.

Usage: python cuda_stubs.py OUT_DIR REAL_LIB... -- CONSUMER_LIB... (prints the stub paths).
Needs gcc and readelf (binutils). pyinstaller.spec calls stub_nvidia_libraries() for the CPU variant.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

STUB_RETURN = 999  # cudaErrorUnknown / a non-success status in every CUDA library's enum
MESSAGE = "CUDA is not available in the CPU build of dfdesk"

# Functions whose answers torch reads on a machine without CUDA: written in C, everything else aliases the stub.
SPECIAL_C = f"""
long dfdesk_cuda_stub(void) {{ return {STUB_RETURN}; }}
int dfdesk_no_device_count(int *count) {{ if (count) *count = 0; return 100; /* cudaErrorNoDevice */ }}
int dfdesk_zero_version(int *version) {{ if (version) *version = 0; return 0; }}
const char *dfdesk_error_string(int error) {{ (void)error; return "{MESSAGE}"; }}
"""
SPECIAL = {
    "cudaGetDeviceCount": "dfdesk_no_device_count",
    "cudaDriverGetVersion": "dfdesk_zero_version",
    "cudaRuntimeGetVersion": "dfdesk_zero_version",
    "cudaGetErrorString": "dfdesk_error_string",
    "cudaGetErrorName": "dfdesk_error_string",
}

SYMBOL = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+(\d+|0x[0-9a-f]+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)")


def exported_symbols(lib: Path) -> list[tuple[str, str | None, bool, str, int]]:
    """(name, version, is_default_version, type, size) of every symbol the library defines."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(lib)], check=True, capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        m = SYMBOL.match(line)
        if not m:
            continue
        size, kind, bind, ndx, name = m.groups()
        if ndx in ("UND", "ABS") or bind == "LOCAL" or kind in ("SECTION", "FILE") or not name:
            continue
        version, default = None, True
        if "@@" in name:
            name, version = name.split("@@", 1)
        elif "@" in name:
            name, version = name.split("@", 1)
            default = False
        if name == version:
            continue  # the version node's own marker symbol
        symbols.append((name, version, default, kind, int(size, 0)))
    return symbols


def soname(lib: Path) -> str:
    out = subprocess.run(["readelf", "-d", str(lib)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", out)
    return m.group(1) if m else lib.name


def make_stub(real: Path, out_dir: Path, wanted: set[str]) -> Path:
    every = exported_symbols(real)
    symbols = [s for s in every if s[0] in wanted]
    name = soname(real)
    asm = ["/* stub */"]
    versions: dict[str, set[str]] = {version: set() for _, version, *_ in every if version}  # keep every node
    for i, (sym, version, default, kind, size) in enumerate(symbols):
        alias = f"dfdesk_s{i}"
        if kind == "OBJECT" or kind == "TLS":
            section = ".tbss" if kind == "TLS" else ".bss"
            flags = ',"awT",@nobits' if kind == "TLS" else ""
            kind_name = "tls_object" if kind == "TLS" else "object"
            asm += [f".section {section}{flags}", ".balign 16", f".type {alias}, @{kind_name}",
                    f".size {alias}, {max(size, 8)}", f"{alias}:", f".zero {max(size, 8)}"]
        else:
            asm += [".text", f".type {alias}, @function", f".set {alias}, {SPECIAL.get(sym, 'dfdesk_cuda_stub')}"]
        if version:
            versions.setdefault(version, set()).add(sym)
            asm.append(f".globl {alias}")
            asm.append(f'.symver {alias}, "{sym}@{"@" if default else ""}{version}"')
        else:
            asm += [f'.globl "{sym}"', f'.set "{sym}", {alias}']
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "stub.c"
        quoted = "\n".join('"' + line.replace('"', '\\"') + '\\n"' for line in asm)
        src.write_text(f"{SPECIAL_C}\n__asm__(\n{quoted});\n")
        # Keep the real library's NEEDED entries on libraries already stubbed in out_dir (pass dependencies first):
        # a consumer may reach a symbol only through them (libtorch_python gets nvshmem's through libtorch_cuda).
        deps = [str(out_dir / dep) for dep in needed(real) if (out_dir / dep).exists() and dep != name]
        args = ["gcc", "-shared", "-fPIC", "-O1", "-nostdlib", f"-Wl,-soname,{name}", "-o", str(out_dir / name),
                str(src), "-Wl,--no-as-needed", *deps]
        if versions:
            script = Path(tmp) / "versions.map"
            nodes = []
            for version, names in sorted(versions.items()):
                listed = " ".join(f'"{n}";' for n in sorted(names))
                nodes.append(f"{version} {{ global: {listed} }};\n" if names else f"{version} {{ }};\n")
            script.write_text("".join(nodes) + "LOCAL_ONLY { local: *; };\n")
            args.append(f"-Wl,--version-script={script}")
        subprocess.run(args, check=True)
    return out_dir / name


def needed(lib: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(lib)], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def undefined_symbols(lib: Path) -> set[str]:
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(lib)], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        m = SYMBOL.match(line)
        if m and m.group(4) == "UND":
            names.add(m.group(5).split("@", 1)[0])
    return names


def system_library(name: str) -> Path | None:
    out = subprocess.run(["/sbin/ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    m = re.search(rf"^\s*{re.escape(name)} \(libc6,x86-64[^)]*\) => (\S+)$", out, re.MULTILINE)
    return Path(m.group(1)) if m else None


def make_stubs(out_dir: Path, real_libs: list[Path], consumers: list[Path]) -> list[Path]:
    """Stubs of real_libs exporting what the consumers import from them, and nothing any other library they load
    already defines (the real CUDA libraries re-export C++ runtime and protobuf symbols; a stub must never
    interpose on those)."""
    stubbed = {soname(lib) for lib in real_libs}
    wanted: set[str] = set()
    elsewhere: set[str] = set()
    others: set[Path] = set(consumers)
    for consumer in consumers:
        wanted |= undefined_symbols(consumer)
        for name in needed(consumer):
            if name in stubbed:
                continue
            local = consumer.parent / name
            path = local if local.exists() else system_library(name)
            if path:
                others.add(path)
    for other in others:
        elsewhere |= {sym for sym, *_ in exported_symbols(other)}
    return [make_stub(real, out_dir, wanted - elsewhere) for real in real_libs]


def rpath_dirs(lib: Path) -> list[Path]:
    out = subprocess.run(["readelf", "-d", str(lib)], check=True, capture_output=True, text=True).stdout
    dirs = [lib.parent]
    for m in re.finditer(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*?)\]", out):
        dirs += [Path(d.replace("$ORIGIN", str(lib.parent))) for d in m.group(1).split(":") if d]
    return dirs


def stub_nvidia_libraries(out_dir: Path, consumers: list[Path]) -> list[Path]:
    """Stubs for every library the consumers need that lives in an nvidia-* wheel (…/site-packages/nvidia/…)."""
    real: dict[str, Path] = {}
    for consumer in consumers:
        for name in needed(consumer):
            for folder in rpath_dirs(consumer):
                candidate = folder / name
                if candidate.exists():
                    if "nvidia" in candidate.resolve().parts:
                        real.setdefault(name, candidate.resolve())
                    break
    # Dependencies first, so that each stub keeps its NEEDED entries on the stubs made before it.
    ordered: list[Path] = []
    while len(ordered) < len(real):
        for name, path in sorted(real.items()):
            if path not in ordered and all(dep not in real or real[dep] in ordered or dep == name
                                           for dep in needed(path)):
                ordered.append(path)
                break
        else:  # a cycle: take the rest in any order
            ordered += [p for p in real.values() if p not in ordered]
    if out_dir.exists():
        for old in out_dir.iterdir():
            old.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    return make_stubs(out_dir, ordered, consumers)


def main(argv: list[str]) -> int:
    """cuda_stubs.py OUT_DIR REAL_LIB... -- CONSUMER_LIB..."""
    split = argv.index("--")
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    for stub in make_stubs(out_dir, [Path(p) for p in argv[1:split]], [Path(p) for p in argv[split + 1:]]):
        print(stub)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
