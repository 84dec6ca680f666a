#!/usr/bin/env python3
"""A pseudo-terminal that stands in for a serial device.

Usage: pty-helper.py LINK

Opens a PTY pair, puts the device side in raw mode and publishes it under LINK (a symlink, as udev
would). Bytes on stdin go to the device; bytes the gateway writes to the device come out on stdout.
"READY <device>" on stderr says the link is in place. SIGTERM, SIGINT or EOF on stdin is an unplug:
the link is removed and the PTY closed, so the gateway sees the device vanish.
"""
import os
import pty
import select
import signal
import sys
import tty


def main() -> int:
    link = sys.argv[1]
    master, slave = pty.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    name = os.ttyname(slave)
    tmp = f"{link}.{os.getpid()}.tmp"
    os.symlink(name, tmp)
    os.replace(tmp, link)

    def unplug(*_args) -> None:
        try:
            if os.readlink(link) == name:
                os.unlink(link)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, unplug)
    signal.signal(signal.SIGINT, unplug)
    sys.stderr.write(f"READY {name}\n")
    sys.stderr.flush()
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    while True:
        readable, _, _ = select.select([stdin, master], [], [])
        if stdin in readable:
            data = os.read(stdin, 65536)
            if not data:
                unplug()
            view = memoryview(data)
            while view:
                n = os.write(master, view)
                view = view[n:]
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                os.write(stdout, data)


if __name__ == "__main__":
    sys.exit(main())
