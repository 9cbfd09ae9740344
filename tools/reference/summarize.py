"""Tables for tools/reference/README.md from the per-step logs in results/ (and a TS run's metrics.jsonl).

    /usr/bin/python3 tools/reference/summarize.py [--ts runs/lavapipe-short/metrics.jsonl]
"""
import argparse
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = (1, 12, 25, 50, 100, 200, 300)


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def running(h, i, key, w=10):
    s = h[max(0, i - w + 1):i + 1]
    return sum(r[key] for r in s) / len(s)


def first_above(h, level, w=10):
    for i in range(w - 1, len(h)):
        if running(h, i, 'accuracy', w) > level:
            return i + 1
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ts', action='append', default=[], help="a TS run's metrics.jsonl to put beside them")
    ap.add_argument('--window', type=int, default=10)
    args = ap.parse_args()
    runs = {}
    for p in sorted(glob.glob(os.path.join(HERE, 'results', '*.jsonl'))):
        runs[os.path.basename(p)[:-6]] = load(p)
    for p in args.ts:
        runs['TS ' + os.path.basename(os.path.dirname(p))] = load(p)
    w = args.window
    print(f'| run | steps | first step rm{w} acc > 0.9 | > 0.99 | median s/step | 10th pct s/step |')
    print('| --- | --- | --- | --- | --- | --- |')
    for n, h in runs.items():
        secs = sorted(r['seconds'] for r in h[1:] or h)
        a9, a99 = (first_above(h, lv, w) or f'not by {len(h)}' for lv in (0.9, 0.99))
        print(f'| {n} | {len(h)} | {a9} | {a99} | '
              f'{secs[len(secs) // 2]:.3f} | {secs[len(secs) // 10]:.3f} |')
    print()
    print(f'CE / batch accuracy at a step (in brackets: running mean over the last {w} steps)')
    print()
    print('| run | ' + ' | '.join(f'step {s}' for s in STEPS) + ' |')
    print('| --- |' + ' --- |' * len(STEPS))
    for n, h in runs.items():
        cells = []
        for s in STEPS:
            if s <= len(h):
                r = h[s - 1]
                cells.append(f"{r['crossEntropy']:.3f} / {r['accuracy']:.2f} "
                             f"({running(h, s - 1, 'crossEntropy', w):.2f} / {running(h, s - 1, 'accuracy', w):.2f})")
            else:
                cells.append('')
        print(f'| {n} | ' + ' | '.join(cells) + ' |')
    print()
    print('| run | final mean sigma | final-grade frozen acc | judge acc | judge per class |')
    print('| --- | --- | --- | --- | --- |')
    for n, h in runs.items():
        sp = os.path.join(HERE, 'results', n + '.summary.json')
        s = json.load(open(sp)) if os.path.exists(sp) else {}
        if 'final_judge_accuracy_100_per_class' not in s:
            continue
        print(f"| {n} | {h[-1]['meanSigma']:.3f} | {s['final_frozen_accuracy_100_per_class']:.3f} | "
              f"{s['final_judge_accuracy_100_per_class']:.3f} | {s['final_judge_accuracy_per_class']} |")


if __name__ == '__main__':
    main()
