/**
 * A real browser for the report tests: Debian's headless Chromium, cut off
 * from the network, and a reader for the PNG screenshots it takes, so a test
 * can ask what the page shows (which colours, where), not only what its HTML says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { execa } from 'execa';

/** Why Chromium cannot run here, or undefined when it can. */
export async function chromiumMissing(): Promise<string | undefined> {
  const found = await execa('chromium', ['--version'], { reject: false });
  return found.exitCode === 0 ? undefined : 'chromium is not installed (apt-get install chromium)';
}

/** Runs headless Chromium on a page with no network (every host name resolves to nothing) and a profile of its own. */
export async function chromium(profile: string, args: string[]): Promise<string> {
  const result = await execa(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${join(profile, 'chromium-profile')}`, ...args],
    { timeout: 90_000 },
  );
  return result.stdout;
}

export interface Image {
  width: number;
  height: number;
  /** [r, g, b] of the pixel at x, y. */
  at(x: number, y: number): [number, number, number];
}

/** Reads an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes): chunks, inflate, and the five row filters. */
export function readPng(path: string): Image {
  const file = readFileSync(path);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error(`${path}: only 8-bit non-interlaced PNGs are read here`);
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[body[9]!] ?? 0;
      if (!channels) throw new Error(`${path}: colour type ${body[9]} is neither RGB nor RGBA`);
    }
    if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const left = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const upLeft = y > 0 && x >= channels ? pixels[(y - 1) * stride + x - channels]! : 0;
      const paeth = () => {
        const p = left + up - upLeft;
        const [a, b, c] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        return a <= b && a <= c ? left : b <= c ? up : upLeft;
      };
      const predictor = [0, left, up, (left + up) >> 1, filter === 4 ? paeth() : 0][filter]!;
      pixels[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    at: (x, y) => {
      const i = y * stride + x * channels;
      return [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
    },
  };
}

/** How many pixels are within `tolerance` of a colour ("#2f81f7"). */
export function countColour(image: Image, hex: string, tolerance = 12): number {
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const got = image.at(x, y);
      if (got.every((c, i) => Math.abs(c - want[i]!) <= tolerance)) count++;
    }
  }
  return count;
}
