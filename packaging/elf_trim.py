"""Leaves the CUDA kernels (the .nv_fatbin section, ~330 MB of GPU code) out of a copy of libtorch_cuda.so for the
CPU variant, where the stubbed libcudart never reads them.

The section lies inside a read-only PT_LOAD segment, between .rodata and .eh_frame, so it cannot simply be cut out:
every address stays where it is and only the file shrinks. The segment is split in two PT_LOADs around the section's
whole pages (one program header is added in the free space after the table), the bytes of those pages are removed
from the file, and the file offsets of everything after them move down by the same multiple of the page size. The
loader leaves the gap between the two segments unmapped (PROT_NONE); the section becomes SHT_NOBITS. Any layout this
code does not expect (no free room for the header, no such section, the section not inside one PT_LOAD) raises
ValueError, and the spec then keeps the library as it was.

    python elf_trim.py IN.so OUT.so [SECTION]
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

PT_LOAD, SHT_NOBITS = 1, 8
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")  # type, flags, offset, vaddr, paddr, filesz, memsz, align
SHDR = struct.Struct("<IIQQQQIIQQ")  # name, type, flags, addr, offset, size, link, info, addralign, entsize


def drop_section(data: bytes, section: str = ".nv_fatbin") -> bytes:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    (ident, etype, machine, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum, shentsize, shnum,
     shstrndx) = EHDR.unpack_from(data, 0)
    phdrs = [list(PHDR.unpack_from(data, phoff + i * phentsize)) for i in range(phnum)]
    shdrs = [list(SHDR.unpack_from(data, shoff + i * shentsize)) for i in range(shnum)]
    strtab = shdrs[shstrndx]

    def name(sh: list[int]) -> str:
        start = strtab[4] + sh[0]
        return data[start:data.index(b"\0", start)].decode()

    target = next((sh for sh in shdrs if name(sh) == section), None)
    if target is None or target[1] == SHT_NOBITS:
        raise ValueError(f"no {section} with contents")
    _, _, _, addr, offset, size, *_ = target
    loads = [ph for ph in phdrs if ph[0] == PT_LOAD]
    page = max(max(ph[7] for ph in loads), 0x1000)
    cut_start = -(-offset // page) * page
    cut_end = (offset + size) // page * page
    if cut_end - cut_start < page:
        raise ValueError(f"{section} is smaller than a page")
    segment = next((ph for ph in loads if ph[2] <= offset and offset + size <= ph[2] + ph[5]), None)
    if segment is None or segment[5] != segment[6]:
        raise ValueError(f"{section} is not inside one file-backed PT_LOAD")
    table_end = phoff + phnum * phentsize
    first_content = min([sh[4] for sh in shdrs if sh[1] != 0 and sh[4] > 0] + [len(data)])
    if table_end + phentsize > first_content or any(data[table_end:table_end + phentsize]):
        raise ValueError("no free room after the program header table")
    if not (0 <= phoff < cut_start and shoff >= cut_end):
        raise ValueError("unexpected header placement")

    delta = cut_end - cut_start
    ptype, pflags, poff, pvaddr, ppaddr, pfilesz, pmemsz, palign = segment
    head = [ptype, pflags, poff, pvaddr, ppaddr, cut_start - poff, cut_start - poff, palign]
    tail_start = pvaddr + (cut_end - poff)
    tail = [ptype, pflags, cut_start, tail_start, ppaddr + (cut_end - poff), poff + pfilesz - cut_end,
            poff + pfilesz - cut_end, palign]
    new_phdrs = []
    for ph in phdrs:
        if ph is segment:
            new_phdrs += [head, tail]
            continue
        if ph[2] >= cut_end:
            ph[2] -= delta
        elif ph[2] + ph[5] > cut_start:
            raise ValueError("another segment overlaps the removed pages")
        new_phdrs.append(ph)
    for sh in shdrs:
        if sh is target:
            sh[1] = SHT_NOBITS
        elif sh[1] != SHT_NOBITS and sh[4] >= cut_end:
            sh[4] -= delta
        elif sh[1] != SHT_NOBITS and sh[5] and sh[4] < cut_end and sh[4] + sh[5] > cut_start:
            raise ValueError("another section overlaps the removed pages")

    out = bytearray(data[:cut_start] + data[cut_end:])
    EHDR.pack_into(out, 0, ident, etype, machine, version, entry, phoff, shoff - delta, flags, ehsize, phentsize,
                   phnum + 1, shentsize, shnum, shstrndx)
    for i, ph in enumerate(new_phdrs):
        PHDR.pack_into(out, phoff + i * phentsize, *ph)
    for i, sh in enumerate(shdrs):
        SHDR.pack_into(out, shoff - delta + i * shentsize, *sh)
    return bytes(out)


def main(argv: list[str]) -> int:
    src, dst = Path(argv[0]), Path(argv[1])
    trimmed = drop_section(src.read_bytes(), *(argv[2:3] or [".nv_fatbin"]))
    dst.write_bytes(trimmed)
    dst.chmod(src.stat().st_mode)
    print(f"{dst}: {src.stat().st_size / 1e6:.1f} MB -> {len(trimmed) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
