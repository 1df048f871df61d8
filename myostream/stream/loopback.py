"""Outlets that listen on 127.0.0.1, which liblsl itself cannot be told to do.

Every LSL outlet opens a TCP data port (inlets connect there for samples) and a UDP
service port (stream queries, clock offsets). liblsl 1.16-1.18 binds both to the wildcard
address: ``tcp_server.cpp`` opens ``tcp_acceptor(io, tcp::v4())`` and
``socket_utils.cpp`` binds it to ``endpoint(protocol, port)``; the unicast
``udp_server`` does the same. No ``lsl_api.cfg`` key changes that: ``[multicast]
ListenAddress`` applies to the multicast responders only, ``[ports]`` chooses port
numbers. Anyone on the network who finds the port could read a person's EMG.

So while an outlet is being created, liblsl's calls to ``bind()`` are redirected: the
library's global offset table entry for ``bind`` (the address its code jumps through)
briefly points at a function that swaps the wildcard address for the loopback one and
calls the C library's ``bind``. Outside that window, and for every other library, nothing
changes. Where this cannot be done (not a 64-bit ELF liblsl, the entry not found),
:func:`unavailable` says why and outlets listen as liblsl decides.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

_SHT_RELA = 4
_R_X86_64_JUMP_SLOT, _R_AARCH64_JUMP_SLOT = 7, 1026
_LOOPBACK_V4 = socket.inet_aton("127.0.0.1")
_LOOPBACK_V6 = socket.inet_pton(socket.AF_INET6, "::1")


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _jump_slot(path: str, symbol: str) -> int | None:
    """Offset (from the load address) of ``symbol``'s global offset table entry in a 64-bit ELF library."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # 64-bit, little-endian
        return None
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != _SHT_RELA or not entsize:
            continue
        symtab = sections[link]
        strtab = sections[symtab[6]]
        for rel in range(offset, offset + size, entsize):
            r_offset, r_info = struct.unpack_from("<QQ", data, rel)
            if r_info & 0xFFFFFFFF not in (_R_X86_64_JUMP_SLOT, _R_AARCH64_JUMP_SLOT):
                continue
            (name_at,) = struct.unpack_from("<I", data, symtab[4] + (r_info >> 32) * symtab[9])
            start = strtab[4] + name_at
            if data[start : data.index(b"\0", start)] == symbol.encode():
                return r_offset
    return None


_BIND = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, use_errno=True)


class _Redirect:
    """liblsl's ``bind`` entry, and the loopback ``bind`` it points at while outlets are made."""

    def __init__(self, liblsl: Any) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._bind = libc.bind
        self._bind.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
        self._bind.restype = ctypes.c_int
        info = _DlInfo()
        libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        if not libc.dladdr(ctypes.cast(liblsl.lsl_library_version, ctypes.c_void_p), ctypes.byref(info)):
            raise OSError("dladdr does not know liblsl")
        offset = _jump_slot(info.dli_fname.decode(), "bind")
        if offset is None:
            raise OSError(f"{info.dli_fname.decode()} has no bind() entry to redirect")
        self.slot = ctypes.c_void_p.from_address(info.dli_fbase + offset)
        self.original = ctypes.cast(self._bind, ctypes.c_void_p).value
        self.loopback = _BIND(self._loopback_bind)  # kept alive as long as this object
        self.lock = threading.Lock()

    def _loopback_bind(self, fd: int, addr: int, length: int) -> int:
        raw = bytearray(ctypes.string_at(addr, length))
        (family,) = struct.unpack_from("=H", raw, 0)
        if family == socket.AF_INET and raw[4:8] == bytes(4):
            raw[4:8] = _LOOPBACK_V4
        elif family == socket.AF_INET6 and raw[8:24] == bytes(16):
            raw[8:24] = _LOOPBACK_V6
        return self._bind(fd, ctypes.create_string_buffer(bytes(raw), length), length)

    @contextmanager
    def active(self) -> Iterator[None]:
        with self.lock:
            self.slot.value = ctypes.cast(self.loopback, ctypes.c_void_p).value
            try:
                yield
            finally:
                self.slot.value = self.original


@cache
def _redirect(liblsl: Any) -> _Redirect | str:
    if not sys.platform.startswith("linux"):
        return f"liblsl binds outlets to every interface and cannot be redirected on {sys.platform}"
    try:
        return _Redirect(liblsl)
    except (OSError, AttributeError, ValueError, struct.error) as exc:
        return f"liblsl binds outlets to every interface and this build cannot be redirected ({exc})"


def unavailable(pylsl: Any) -> str | None:
    """Why outlets cannot be kept on loopback here (None when they can)."""
    r = _redirect(pylsl.lib.lib)
    return r if isinstance(r, str) else None


@contextmanager
def loopback_binds(pylsl: Any) -> Iterator[None]:
    """Inside, sockets liblsl binds to the wildcard address are bound to loopback instead."""
    r = _redirect(pylsl.lib.lib)
    if isinstance(r, str):
        yield
        return
    with r.active():
        yield
