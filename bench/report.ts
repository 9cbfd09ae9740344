// Results of `npm run bench`: the record per row, the terminal table, the markdown summary.
import type { Check } from './check.js';
import type { Spread } from './timing.js';

export interface PeerResult {
  /** median ms per execution (wall-clock, GPU synchronised; batched like ours) */
  ms: number | null;
  gflops: number | null;
  gbps: number | null;
  spread?: Spread;
  batch?: number;
  /** its output against the float64 reference */
  ok?: boolean;
  check?: string;
  /** why the peer did not run this row */
  unsupported?: string;
  error?: string;
  notes?: string[];
}

export interface Result {
  family: string;
  kernel: string;
  shape: string;
  where: string;
  heavy: boolean;
  /** our median ms: GPU time from timestamp queries where the adapter has them, else wall-clock */
  ms: number | null;
  gflops: number | null;
  gbps: number | null;
  /** 'gpu-timestamps' or 'wall-clock' */
  timing: string;
  /** our wall-clock ms per execution, queue drained, batched as the peers are (the ratio uses this) */
  wallMs: number | null;
  gpuSpread: Spread | null;
  /** spread of wallMs */
  wallSpread: Spread | null;
  /** wall-clock of the timestamped single executions (each: launch, submit, wait) */
  perRepWallSpread: Spread | null;
  /** executions per wall-clock sample (ours and the peers') */
  batch: number;
  flop: number;
  bytes: number;
  bound: 'compute' | 'memory';
  check: Check | null;
  error?: string;
  peers: Record<string, PeerResult>;
  /** fastest peer whose output matched the reference */
  bestPeer: string | null;
  /** our speed / best peer's speed, both wall-clock: > 1 means we are faster */
  ratio: number | null;
  notes: string[];
  /** training-step rows only */
  imagesPerSec?: number;
  /** training-step rows: median host (JavaScript) ms to record or replay and submit one step */
  hostMs?: number;
  hostSpread?: Spread;
  dispatchesPerStep?: number;
}

export interface Report {
  adapter: string;
  date: string;
  peers: Record<string, string>;
  options: Record<string, unknown>;
  environment: Record<string, string>;
  seconds?: number;
  results: Result[];
}

const fmtMs = (ms: number | null | undefined): string => {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
};

const fmtNum = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** GFLOP/s or GB/s, whichever the row's bound calls for. */
export function figure(r: { bound: 'compute' | 'memory'; gflops: number | null; gbps: number | null }, imagesPerSec?: number, hostMs?: number): string {
  if (imagesPerSec !== undefined) return `${fmtNum(imagesPerSec)} img/s${hostMs !== undefined ? `, host ${fmtMs(hostMs)} ms` : ''}`;
  const v = r.bound === 'compute' ? r.gflops : r.gbps;
  if (v === null || !Number.isFinite(v)) return '-';
  return `${fmtNum(v)} ${r.bound === 'compute' ? 'GF/s' : 'GB/s'}`;
}

export function rates(ms: number | null, flop: number, bytes: number): { gflops: number | null; gbps: number | null } {
  if (ms === null || !(ms > 0)) return { gflops: null, gbps: null };
  return { gflops: flop ? flop / (ms * 1e6) : null, gbps: bytes ? bytes / (ms * 1e6) : null };
}

interface Table {
  header: string[];
  rows: string[][];
  footnotes: string[];
}

function buildTable(report: Report): Table {
  const peerNames = Object.keys(report.peers);
  const header = ['kernel', 'shape', 'where', 'check', 'ours ms', 'IQR', 'ours', 'ours wall ms'];
  for (const p of peerNames) header.push(`${p} ms`, p);
  const withPeers = peerNames.length > 0;
  if (withPeers) header.push('ours/best');
  const notes = new Map<string, number>();
  const note = (text: string): string => {
    if (!notes.has(text)) notes.set(text, notes.size + 1);
    return `[${notes.get(text)}]`;
  };
  const rows = report.results.map((r) => {
    const check = r.error ? `ERR${note(r.error)}` : r.check ? (r.check.ok ? 'ok' : `FAIL${note(`${r.kernel} ${r.shape}: ${r.check.message}`)}`) : '-';
    const iqr = r.gpuSpread ?? r.wallSpread;
    const cells = [
      r.kernel,
      r.shape,
      r.where,
      check,
      fmtMs(r.ms),
      iqr && iqr.samples > 1 ? `${fmtMs(iqr.q1)}-${fmtMs(iqr.q3)}` : '-',
      figure(r, r.imagesPerSec, r.hostMs),
      r.batch > 1 ? `${fmtMs(r.wallMs)} (x${r.batch})` : fmtMs(r.wallMs),
    ];
    const reasons = new Set(peerNames.map((p) => r.peers[p]?.unsupported));
    const shared = reasons.size === 1 && [...reasons][0] !== undefined;
    for (const p of peerNames) {
      const pr = r.peers[p];
      if (!pr) cells.push('-', '-');
      else if (pr.unsupported) cells.push(`n/a${note(shared ? pr.unsupported : `${p}: ${pr.unsupported}`)}`, '');
      else if (pr.error) cells.push(`err${note(`${p}: ${pr.error}`)}`, '');
      else {
        const bad = pr.ok === false ? `!${note(`${p} ${r.kernel} ${r.shape}: output does not match the reference (${pr.check})`)}` : '';
        cells.push(fmtMs(pr.ms) + bad, figure({ bound: r.bound, gflops: pr.gflops, gbps: pr.gbps }));
      }
    }
    if (withPeers) cells.push(r.ratio === null ? '-' : `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}x${r.ratio < 1 ? ' <' : ''}`);
    return cells;
  });
  const footnotes = [...notes].map(([text, i]) => `[${i}] ${text}`);
  return { header, rows, footnotes };
}

export function formatTable(report: Report): string {
  const t = buildTable(report);
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const right = new Set(t.header.map((h, i) => (['kernel', 'shape', 'where', 'check'].includes(h) ? -1 : i)).filter((i) => i >= 0));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(t.header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let family = '';
  for (let i = 0; i < t.rows.length; i++) {
    const f = report.results[i].family.replace('conv2dInputGrad', 'conv2d');
    if (family && f !== family) out.push('');
    family = f;
    out.push(line(t.rows[i]));
  }
  if (t.footnotes.length) out.push('', ...t.footnotes);
  return out.join('\n');
}

export function slowerRows(report: Report): string[] {
  return report.results
    .filter((r) => r.ratio !== null && r.ratio < 1)
    .map((r) => `${r.kernel} ${r.shape} (${r.where}): ${(1 / r.ratio!).toFixed(2)}x slower than ${r.bestPeer}`);
}

/** Per family: rows compared with a peer, rows where we are faster, geometric mean of ours/best. */
export function familySummary(report: Report): string[] {
  const groups = new Map<string, number[]>();
  for (const r of report.results) {
    if (r.ratio === null) continue;
    const list = groups.get(r.kernel) ?? [];
    list.push(r.ratio);
    groups.set(r.kernel, list);
  }
  return [...groups].map(([kernel, ratios]) => {
    const geo = Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length);
    const faster = ratios.filter((x) => x >= 1).length;
    return `${kernel}: ${ratios.length} rows, faster than the best peer in ${faster}, geometric mean ours/best ${geo.toFixed(2)}x`;
  });
}

export function formatMarkdown(report: Report): string {
  const t = buildTable(report);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Bench: ${report.adapter}, ${report.date.slice(0, 10)}`,
    '',
    `- adapter: ${report.adapter}`,
    ...Object.entries(report.peers).map(([p, a]) => `- ${p}: ${a}`),
    `- options: \`${JSON.stringify(report.options)}\``,
    ...Object.entries(report.environment).map(([k, v]) => `- ${k}: ${v}`),
    ...(report.seconds !== undefined ? [`- duration: ${(report.seconds / 60).toFixed(1)} min`] : []),
    '',
    '"ours ms" is the median GPU time from timestamp queries (IQR next to it); "ours wall ms" is our wall-clock time per',
    'execution with the queue drained, batched (xk) like the peers\' runMany(k); peers are wall-clock only. ',
    '"ours/best" = best peer wall ms / our wall ms (> 1: we are faster; "<" marks rows where a peer is faster).',
    '',
    `| ${t.header.map(esc).join(' | ')} |`,
    `| ${t.header.map((h) => (['kernel', 'shape', 'where', 'check'].includes(h) ? '---' : '---:')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
    ...t.footnotes.map((f) => `${esc(f)}  `),
  ];
  const summary = familySummary(report);
  if (summary.length) lines.push('', '## Summary by kernel', '', ...summary.map((s) => `- ${s}`));
  const slow = slowerRows(report);
  if (slow.length) lines.push('', '## Rows where a peer is faster', '', ...slow.map((s) => `- ${s}`));
  return lines.join('\n') + '\n';
}
