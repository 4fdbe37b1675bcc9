#!/usr/bin/python3
# Prints UDP frames in hexadecimal, as "ovs-appctl netdev-dummy/receive"
# takes them, 100 per line (the dummy rx queue holds 100 packets).
#
# Usage: udp-frames.py FIRST COUNT [DST]
#
# Frame number K, for K from FIRST to FIRST + COUNT - 1, goes from
# 10.0.0.(1 + K // 60000) (carrying over into the higher bytes), UDP port
# 1024 + K % 60000, to 10.0.0.DST (default 2), port 9: every frame is a
# flow of its own.
import struct
import sys


def frame(k, dst):
    src = 0x0a000001 + k // 60000
    udp = struct.pack('!HHHH', 1024 + k % 60000, 9, 8 + 18, 0) + bytes(18)
    ip = struct.pack('!BBHHHBBHII', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     src, 0x0a000000 + dst)
    eth = bytes.fromhex('50540000000a' '505400000001' '0800')
    return (eth + ip + udp).hex()


def main():
    first, count = int(sys.argv[1]), int(sys.argv[2])
    dst = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    frames = [frame(k, dst) for k in range(first, first + count)]
    for i in range(0, len(frames), 100):
        print(' '.join(frames[i:i + 100]))


if __name__ == '__main__':
    main()
