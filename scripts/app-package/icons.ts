/**
 * The app's two icons, drawn here so the package needs no binary from elsewhere: a white bell on
 * the accent colour (colour icon, 192×192, full bleed as Teams asks) and the same bell in white on
 * transparent (outline icon, 32×32: Teams accepts only white and transparent pixels there).
 * Shapes are tested per sample point; 4×4 samples per pixel give smooth edges.
 */
import { PNG } from 'pngjs';

export const COLOR_SIZE = 192;
export const OUTLINE_SIZE = 32;
/** Same value as the manifest's accentColor. */
export const ACCENT = { r: 0x3b, g: 0x5b, b: 0xdb };

const SAMPLES = 4;

/** True when (x, y), in units of the icon's side (0..1), is inside the bell. */
function inBell(x: number, y: number): boolean {
  const dx = x - 0.5;
  // Knob on top.
  if (Math.hypot(dx, y - 0.2) <= 0.055) return true;
  // Dome: the upper half of an ellipse.
  if (y >= 0.24 && y <= 0.5 && (dx / 0.25) ** 2 + ((y - 0.5) / 0.26) ** 2 <= 1) return true;
  // Skirt: widens from the dome to the rim.
  if (y >= 0.5 && y <= 0.68 && Math.abs(dx) <= 0.25 + ((y - 0.5) / 0.18) * 0.07) return true;
  // Rim.
  if (y >= 0.66 && y <= 0.73 && Math.abs(dx) <= 0.35) return true;
  // Clapper.
  return Math.hypot(dx, y - 0.79) <= 0.07;
}

/** Fraction (0..1) of the pixel's samples inside the bell. */
function coverage(px: number, py: number, size: number): number {
  let hits = 0;
  for (let sy = 0; sy < SAMPLES; sy++) {
    for (let sx = 0; sx < SAMPLES; sx++) {
      if (inBell((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size)) hits++;
    }
  }
  return hits / (SAMPLES * SAMPLES);
}

function draw(size: number, pixel: (cover: number) => [number, number, number, number]): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const [r, g, b, a] = pixel(coverage(x, y, size));
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = a;
    }
  }
  return PNG.sync.write(png, { colorType: 6 });
}

const mix = (from: number, to: number, t: number) => Math.round(from + (to - from) * t);

export function colorIcon(): Buffer {
  return draw(COLOR_SIZE, (c) => [mix(ACCENT.r, 255, c), mix(ACCENT.g, 255, c), mix(ACCENT.b, 255, c), 255]);
}

export function outlineIcon(): Buffer {
  return draw(OUTLINE_SIZE, (c) => [255, 255, 255, Math.round(c * 255)]);
}
