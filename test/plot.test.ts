// The trade-off picture of docs/baseline.md: each point where its axes put it, in its series' colour.
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { describe, expect, it } from 'vitest';
import { plotTradeoff } from '../src/train/plot.js';

async function pixels(png: Buffer) {
  const image = await loadImage(png);
  const ctx = createCanvas(image.width, image.height).getContext('2d');
  ctx.drawImage(image, 0, 0);
  return { width: image.width, height: image.height, at: (x: number, y: number) => Array.from(ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data.slice(0, 3)) };
}

describe('plotTradeoff', () => {
  it('draws each panel side by side, its points where the axes put them, a legend row per series and one for the targets', async () => {
    const panel = (title: string) => ({
      title, xLabel: 'variety', yLabel: 'accuracy',
      series: [
        { label: 'a', points: [{ x: 0.5, y: 1.1, tag: '0.5' }, { x: 0.9, y: 0.9, tag: '1' }] },
        { label: 'b', points: [{ x: 0.7, y: 1.0, xSpread: 0.05, ySpread: 0.02 }] },
      ],
      guides: [{ y: 1, label: 'real' }],
    });
    const png = plotTradeoff([panel('one'), panel('two')], { panelWidth: 400, height: 300 });
    const { width, height, at } = await pixels(png);
    expect(width).toBe(800);
    expect(height).toBe(300 + 22 * 3 + 16);
    // The plot area of panel k: x from k * 400 + 70 to (k + 1) * 400 - 16, y from 40 to 250;
    // the data range is [0.5, 0.9] x [0.9, 1.1] with a 6% margin each side.
    const place = (k: number, x: number, y: number): [number, number] => {
      const [x0, x1, y0, y1] = [0.5 - 0.024, 0.9 + 0.024, 0.9 - 0.012, 1.1 + 0.012];
      return [k * 400 + 70 + ((x - x0) / (x1 - x0)) * (400 - 16 - 70), 250 - ((y - y0) / (y1 - y0)) * 210];
    };
    for (const k of [0, 1]) {
      expect(at(...place(k, 0.5, 1.1))).toEqual([0x1f, 0x77, 0xb4]); // series a's colour
      expect(at(...place(k, 0.9, 0.9))).toEqual([0x1f, 0x77, 0xb4]);
      expect(at(...place(k, 0.7, 1.0))).toEqual([0xd6, 0x27, 0x28]); // series b's
    }
    // Where no point or line is: the background.
    expect(at(...place(0, 0.85, 1.08))).toEqual([255, 255, 255]);
  });

  it('draws a series in the colour it names, and a dashed one with gaps along its line', async () => {
    const line = (dashed: boolean) => ({ label: 'c', color: '#00ff00', dashed, points: [{ x: 0, y: 0 }, { x: 1, y: 0 }] });
    const along = async (dashed: boolean) => {
      const { at } = await pixels(plotTradeoff([{ title: 't', xLabel: 'x', yLabel: 'y', series: [line(dashed)] }], { panelWidth: 400, height: 300 }));
      // y = 0 is the middle of the fitted range [-1, 1]; between the points, away from their dots and crosses.
      return Array.from({ length: 200 }, (_, i) => at(120 + i, 145)).map(([r, g, b]) => r < 200 && g > 150 && b < 200);
    };
    const solid = await along(false);
    const dashed = await along(true);
    expect(solid.every(Boolean)).toBe(true);
    expect(dashed.filter(Boolean).length).toBeGreaterThan(80);
    expect(dashed.filter((green) => !green).length).toBeGreaterThan(40);
  });
});
