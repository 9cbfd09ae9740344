// Training curves as a PNG (@napi-rs/canvas): one panel per series, stacked, sharing the step
// axis; the raw values faint, an exponential moving average on top, epochs marked.
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { font } from './font.js';

export interface Series {
  /** Panel title. */
  label: string;
  /** Y axis title. */
  axis?: string;
  points: [number, number][];
  color?: string;
}

export interface PlotOptions {
  /** Steps per epoch: a dashed line and an "epoch N" mark at each boundary. */
  stepsPerEpoch?: number;
  width?: number;
  panelHeight?: number;
  /** The x axis's title (default 'step'). */
  xLabel?: string;
}

/** Debiased exponential moving average (as TensorBoard smooths), weight chosen from the length. */
export function smooth(values: number[], weight = Math.min(0.95, Math.max(0, 1 - 10 / values.length))): number[] {
  let avg = 0;
  return values.map((v, i) => {
    avg = weight * avg + (1 - weight) * v;
    return avg / (1 - weight ** (i + 1));
  });
}

/** About `count` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** The data's range with a margin, so that a flat or nearly flat series still fills the panel. */
function fittedRange(values: number[]): [number, number] {
  let [lo, hi] = [Math.min(...values), Math.max(...values)];
  if (hi - lo < 1e-9 * Math.max(1, Math.abs(hi))) [lo, hi] = [lo - 0.5 * Math.max(1e-3, Math.abs(lo) * 0.1), hi + 0.5 * Math.max(1e-3, Math.abs(hi) * 0.1)];
  const margin = 0.06 * (hi - lo);
  return [lo - margin, hi + margin];
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
/** A dashed series' line: longer dashes than the targets' 5 / 4, so the two never read alike. */
const SERIES_DASH = [9, 5];

export function plotCurves(series: Series[], options: PlotOptions = {}): Buffer {
  const { stepsPerEpoch, width = 820, panelHeight = 240, xLabel = 'step' } = options;
  const canvas = createCanvas(width, panelHeight * series.length + (stepsPerEpoch ? 50 : 30));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const [left, right] = [84, 20];
  const allX = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = [Math.min(0, ...allX), Math.max(1, ...allX)];
  series.forEach((s, k) => {
    const top = k * panelHeight + 40;
    const bottom = (k + 1) * panelHeight - 12;
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (pts.length === 0) return;
    const [y0, y1] = fittedRange(pts.map((p) => p[1]));
    const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
    const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
    const color = s.color ?? PALETTE[k % PALETTE.length];

    ctx.fillStyle = '#111';
    ctx.font = font(15, 'bold');
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(s.label, left, top - 12);
    gridAndTicks(ctx, niceTicks(y0, y1), py, left, width - right);
    if (stepsPerEpoch) epochLines(ctx, stepsPerEpoch, x1, px, top, bottom);
    ctx.strokeStyle = '#333';
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, top + 0.5, width - left - right, bottom - top);
    if (s.axis) {
      ctx.save();
      ctx.fillStyle = '#111';
      ctx.translate(18, (top + bottom) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.font = font(13);
      ctx.textAlign = 'center';
      ctx.fillText(s.axis, 0, 0);
      ctx.restore();
    }
    polyline(ctx, pts, px, py, color, 1, 0.25);
    const smoothed = smooth(pts.map((p) => p[1]));
    polyline(ctx, pts.map((p, i) => [p[0], smoothed[i]]), px, py, color, 2, 1);
  });
  // The shared x axis under the last panel.
  const bottom = series.length * panelHeight - 12;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  ctx.fillStyle = '#111';
  ctx.font = font(12);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of niceTicks(x0, x1, 8).filter(Number.isInteger)) ctx.fillText(String(t), px(t), bottom + 4);
  let below = bottom + 22;
  if (stepsPerEpoch) {
    // Epoch numbers centred in their span, under the axis, where they hide no data.
    ctx.fillStyle = '#777';
    ctx.font = font(11);
    for (let e = 1; (e - 1) * stepsPerEpoch < x1; e++) {
      ctx.fillText(`epoch ${e}`, px(((e - 1) * stepsPerEpoch + Math.min(x1, e * stepsPerEpoch)) / 2), below);
    }
    below += 20;
  }
  ctx.fillStyle = '#111';
  ctx.font = font(13);
  ctx.fillText(xLabel, (left + width - right) / 2, below);
  return canvas.toBuffer('image/png');
}

function gridAndTicks(ctx: SKRSContext2D, ticks: number[], py: (y: number) => number, x0: number, x1: number): void {
  ctx.font = font(12);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  for (const t of ticks) {
    const y = Math.round(py(t)) + 0.5;
    ctx.strokeStyle = '#e6e6e6';
    ctx.beginPath();
    ctx.moveTo(x0, y);
    ctx.lineTo(x1, y);
    ctx.stroke();
    ctx.fillStyle = '#111';
    ctx.fillText(formatTick(t, ticks[1] - ticks[0]), x0 - 6, y);
  }
}

function epochLines(ctx: SKRSContext2D, stepsPerEpoch: number, lastStep: number, px: (x: number) => number, top: number, bottom: number): void {
  ctx.strokeStyle = '#9a9a9a';
  ctx.setLineDash([4, 4]);
  for (let e = 1; e * stepsPerEpoch < lastStep; e++) {
    const x = Math.round(px(e * stepsPerEpoch)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

function polyline(ctx: SKRSContext2D, pts: number[][], px: (x: number) => number, py: (y: number) => number, color: string, lineWidth: number, alpha: number, dash: number[] = []): void {
  ctx.save();
  ctx.setLineDash(dash);
  ctx.strokeStyle = color;
  ctx.globalAlpha = alpha;
  ctx.lineWidth = lineWidth;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  pts.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
  ctx.stroke();
  ctx.restore();
}

/** As many decimals as the tick spacing needs, so that neighbouring ticks never read the same. */
function formatTick(v: number, spacing = 1): string {
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(spacing || 1))));
}

/** A point of a trade-off curve: means over seeds, with half their spread, and what set it (a temperature). */
export interface TradeoffPoint {
  x: number;
  y: number;
  xSpread?: number;
  ySpread?: number;
  tag?: string;
}

export interface TradeoffPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Colour: the palette's, in order, unless given (two series of one thing in one colour, one of them dashed). */
  series: { label: string; points: TradeoffPoint[]; color?: string; dashed?: boolean }[];
  /** Dashed grey lines marking targets, with their labels. */
  guides?: { x?: number; y?: number; label: string }[];
}

/**
 * Trade-off curves, side by side, one panel each (e.g. a judge's accuracy against variety as a
 * sampling temperature moves): every series a line through its points, each point with its spread
 * over seeds as a cross and its tag beside it, a legend under the panels, and dashed target lines.
 */
export function plotTradeoff(panels: TradeoffPanel[], { panelWidth = 480, height = 440 } = {}): Buffer {
  const legendRows = Math.max(...panels.map((p) => p.series.length + (p.guides?.length ? 1 : 0)));
  const canvas = createCanvas(panelWidth * panels.length, height + 22 * legendRows + 16);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  panels.forEach((panel, k) => {
    const [left, right, top, bottom] = [k * panelWidth + 70, (k + 1) * panelWidth - 16, 40, height - 50];
    const points = panel.series.flatMap((s) => s.points);
    const xs = [...points.flatMap((p) => [p.x - (p.xSpread ?? 0), p.x + (p.xSpread ?? 0)]), ...(panel.guides ?? []).flatMap((g) => (g.x === undefined ? [] : [g.x]))];
    const ys = [...points.flatMap((p) => [p.y - (p.ySpread ?? 0), p.y + (p.ySpread ?? 0)]), ...(panel.guides ?? []).flatMap((g) => (g.y === undefined ? [] : [g.y]))];
    const [x0, x1] = fittedRange(xs);
    const [y0, y1] = fittedRange(ys);
    const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
    const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
    ctx.fillStyle = '#111';
    ctx.font = font(15, 'bold');
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(panel.title, left, top - 14);
    gridAndTicks(ctx, niceTicks(y0, y1), py, left, right);
    const xTicks = niceTicks(x0, x1);
    ctx.font = font(12);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) ctx.fillText(formatTick(t, xTicks[1] - xTicks[0]), px(t), bottom + 4);
    ctx.font = font(13);
    ctx.fillText(panel.xLabel, (left + right) / 2, bottom + 24);
    ctx.save();
    ctx.translate(k * panelWidth + 18, (top + bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(panel.yLabel, 0, 0);
    ctx.restore();
    ctx.strokeStyle = '#333';
    ctx.strokeRect(left + 0.5, top + 0.5, right - left, bottom - top);
    // Targets: dashed lines, named in the legend (labels on the plot would cover points).
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = '#888';
    for (const g of panel.guides ?? []) {
      ctx.beginPath();
      if (g.x !== undefined) {
        ctx.moveTo(px(g.x), top);
        ctx.lineTo(px(g.x), bottom);
      } else if (g.y !== undefined) {
        ctx.moveTo(left, py(g.y));
        ctx.lineTo(right, py(g.y));
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    panel.series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const dash = s.dashed ? SERIES_DASH : [];
      polyline(ctx, s.points.map((p) => [p.x, p.y]), px, py, color, 2, 0.8, dash);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      for (const p of s.points) {
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(px(p.x - (p.xSpread ?? 0)), py(p.y));
        ctx.lineTo(px(p.x + (p.xSpread ?? 0)), py(p.y));
        ctx.moveTo(px(p.x), py(p.y - (p.ySpread ?? 0)));
        ctx.lineTo(px(p.x), py(p.y + (p.ySpread ?? 0)));
        ctx.stroke();
        ctx.beginPath();
        ctx.arc(px(p.x), py(p.y), 3.5, 0, 2 * Math.PI);
        ctx.fill();
        if (p.tag) {
          ctx.font = font(11);
          ctx.textAlign = 'left';
          ctx.textBaseline = 'bottom';
          ctx.fillText(p.tag, px(p.x) + 5, py(p.y) - 3);
        }
      }
      // The legend, under the panels.
      const y = height + 8 + 22 * i;
      if (s.dashed) for (let x = 0; x < 18; x += SERIES_DASH[0] + SERIES_DASH[1]) ctx.fillRect(left + x, y + 5, Math.min(SERIES_DASH[0], 18 - x), 4);
      else ctx.fillRect(left, y + 5, 18, 4);
      ctx.fillStyle = '#111';
      ctx.font = font(12);
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(s.label, left + 26, y);
    });
    if (panel.guides?.length) {
      const y = height + 8 + 22 * panel.series.length;
      ctx.setLineDash([5, 4]);
      ctx.strokeStyle = '#888';
      ctx.beginPath();
      ctx.moveTo(left, y + 7);
      ctx.lineTo(left + 18, y + 7);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = '#111';
      ctx.fillText(`targets: ${panel.guides.map((g) => g.label).join('; ')}`, left + 26, y);
    }
  });
  return canvas.toBuffer('image/png');
}
