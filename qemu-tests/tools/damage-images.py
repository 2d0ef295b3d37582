#!/usr/bin/env python3
"""Writes COUNT damaged copies of a checkpoint image: one in four truncated
at a random length, the others with 1-3 flipped bits, mostly in the first
12 KiB (the metadata sections) and one in four anywhere (page data too).

usage: damage-images.py IMAGE OUTDIR COUNT SEED
"""
import os
import random
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    src, dst, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    data = open(src, 'rb').read()
    os.makedirs(dst, exist_ok=True)
    rnd = random.Random(seed)
    meta = min(len(data), 12288)
    for i in range(count):
        b = bytearray(data)
        if i % 4 == 0:
            b = b[:rnd.randrange(len(b))]
        else:
            for _ in range(rnd.randint(1, 3)):
                pos = rnd.randrange(meta) if i % 4 != 3 else rnd.randrange(len(b))
                b[pos] ^= 1 << rnd.randrange(8)
        with open(f'{dst}/{i}.img', 'wb') as f:
            f.write(b)


if __name__ == '__main__':
    main()
