// Training curves as a PNG: one panel per series, drawn with a 3x5 pixel font for the labels.
import { PNG } from 'pngjs';

// 3x5 glyphs, rows top to bottom, 3 bits each (MSB = left).
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '-': [0, 0, 7, 0, 0], ' ': [0, 0, 0, 0, 0], ':': [0, 2, 0, 2, 0], '%': [5, 1, 2, 4, 5],
  a: [0, 7, 5, 7, 5], c: [0, 7, 4, 4, 7], e: [0, 7, 7, 4, 7], g: [0, 7, 5, 7, 1], i: [2, 0, 2, 2, 2],
  l: [4, 4, 4, 4, 6], m: [0, 5, 7, 5, 5], n: [0, 6, 5, 5, 5], o: [0, 7, 5, 5, 7], p: [0, 7, 5, 7, 4],
  r: [0, 6, 4, 4, 4], s: [0, 7, 6, 1, 7], t: [4, 7, 4, 4, 3], u: [0, 5, 5, 5, 7], y: [0, 5, 7, 1, 7], k: [4, 5, 6, 5, 5],
  h: [4, 4, 7, 5, 5], d: [1, 1, 7, 5, 7], v: [0, 5, 5, 5, 2], w: [0, 5, 5, 7, 5], x: [0, 5, 2, 2, 5], z: [0, 7, 2, 4, 7],
  b: [4, 4, 7, 5, 7], f: [3, 4, 6, 4, 4], q: [0, 7, 5, 7, 1], '(': [1, 2, 2, 2, 1], ')': [4, 2, 2, 2, 4], '/': [1, 1, 2, 4, 4],
};

type Rgb = [number, number, number];

class Canvas {
  readonly png: PNG;
  constructor(readonly width: number, readonly height: number) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const at = (Math.round(y) * this.width + Math.round(x)) * 4;
    this.png.data[at] = c[0];
    this.png.data[at + 1] = c[1];
    this.png.data[at + 2] = c[2];
  }
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= steps; i++) this.set(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps, c);
  }
  text(x: number, y: number, s: string, c: Rgb = [0, 0, 0], scale = 2): void {
    for (const ch of s.toLowerCase()) {
      const g = GLYPHS[ch] ?? GLYPHS[' '];
      g.forEach((bits, row) => {
        for (let col = 0; col < 3; col++) {
          if (bits & (4 >> col)) {
            for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.set(x + col * scale + dx, y + row * scale + dy, c);
          }
        }
      });
      x += 4 * scale;
    }
  }
}

export interface Series {
  label: string;
  points: [number, number][];
  color?: Rgb;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** One panel per series, stacked vertically, x = step. */
export function plotCurves(series: Series[], width = 640, panelHeight = 200): Buffer {
  const canvas = new Canvas(width, panelHeight * series.length);
  const left = 60;
  const right = 12;
  const palette: Rgb[] = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189]];
  series.forEach((s, k) => {
    const top = k * panelHeight + 24;
    const bottom = (k + 1) * panelHeight - 24;
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
    let [y0, y1] = [Math.min(...ys, 0), Math.max(...ys, 1e-9)];
    if (y1 - y0 < 1e-9) y1 = y0 + 1;
    const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
    const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
    canvas.text(left, top - 18, s.label);
    canvas.line(left, top, left, bottom, [0, 0, 0]);
    canvas.line(left, bottom, width - right, bottom, [0, 0, 0]);
    for (const v of [y0, (y0 + y1) / 2, y1]) {
      canvas.line(left - 4, py(v), left, py(v), [0, 0, 0]);
      canvas.text(4, py(v) - 5, formatTick(v));
    }
    canvas.text(left, bottom + 6, `step ${formatTick(x0)}`);
    const endLabel = `${Math.round(x1)}`;
    canvas.text(width - right - endLabel.length * 8, bottom + 6, endLabel);
    const color = s.color ?? palette[k % palette.length];
    for (let i = 1; i < pts.length; i++) canvas.line(px(pts[i - 1][0]), py(pts[i - 1][1]), px(pts[i][0]), py(pts[i][1]), color);
  });
  return PNG.sync.write(canvas.png);
}
