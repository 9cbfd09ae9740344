"""PyTorch reference of the input-generator training loop of src/train (trainer.ts, pipeline.ts,
inputGenerator.ts), on the default pair or any BigGAN / VGG state dicts.

    class -> one-hot -> Linear(10, H) -> relu -> Linear(H, H) -> relu -> mu = Linear(H, dim_z),
                                                                      sigma = softplus(Linear(H, dim_z)) + 1e-3
    z = mu + sigma * eps;  image = G(z);  nearest-upsample to the classifier size;
    optional random shift (same for the whole batch, border -1);  logits = VGG(.)
    loss = CE(logits, class) + kl * mean(0.5 (sigma^2 + mu^2 - 1) - log sigma) + variance * -mean(log sigma)
    Adam(lr), classes drawn uniformly per step.

--rng ts (default) draws every random number exactly as the TypeScript trainer does (a port of
src/engine/random.ts: xoshiro128** seeded by splitmix32, Box-Muller normals): the input generator's
initial weights from Rng(seed) in the order trunk1.weight, trunk1.bias, trunk2..., mu...,
sigma...; then per step, from a second Rng(seed), `batch` class indices, then batch*dim_z
normals for eps, then (shift > 0) dy and dx. So a run here and `npm run train` with the same
options see the same classes, noise, shifts and initial weights, and their per-step metrics can be
compared line by line. --rng torch uses torch.manual_seed, nn.Linear's default init, torch.randint
and torch.randn instead (the same distributions).

--fixed-batch: classes 0..9 and one eps (Rng(--eps-seed).fillNormal, as in
test/trainer.test.ts) every step, no KL, no shift, lr 1e-2 unless given.

Writes one JSON line per step (--log), prints a line per step and a summary.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import VGG, BigGANGenerator, load_state_dict, translate, upsample  # noqa: E402

PRETRAINED = '/work/shared/pretrained'
M32 = 0xFFFFFFFF


class TsRng:
    """src/engine/random.ts, bit for bit: xoshiro128**, splitmix32 seeding, Box-Muller with a spare."""

    def __init__(self, seed=0):
        x = seed & M32
        self.s = [0, 0, 0, 0]
        for i in range(4):
            x = (x + 0x9E3779B9) & M32
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            self.s[i] = (z ^ (z >> 16)) & M32
        self.spare = None

    def next_uint32(self):
        s0, s1, s2, s3 = self.s
        t = (s1 * 5) & M32
        r = ((t << 7) | (t >> 25)) & M32
        result = (r * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 11) | (s3 >> 21)) & M32
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        return self.next_uint32() / 4294967296.0

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u = 0.0
        while u == 0.0:
            u = self.uniform()
        v = self.uniform()
        r = math.sqrt(-2.0 * math.log(u))
        self.spare = r * math.sin(2.0 * math.pi * v)
        return r * math.cos(2.0 * math.pi * v)

    def int(self, n):
        return math.floor(self.uniform() * n)

    def fill_normal(self, n):
        return torch.tensor([self.normal() for _ in range(n)], dtype=torch.float32)

    def fill_uniform(self, n, low, high):
        return torch.tensor([low + (high - low) * self.uniform() for _ in range(n)], dtype=torch.float32)


class InputGenerator(nn.Module):
    def __init__(self, num_classes, dim_z, hidden, min_sigma=1e-3, ts_seed=None):
        super().__init__()
        self.num_classes, self.min_sigma = num_classes, min_sigma
        self.trunk1 = nn.Linear(num_classes, hidden)  # PyTorch default init: U(+-1/sqrt(fan_in))
        self.trunk2 = nn.Linear(hidden, hidden)
        self.mu = nn.Linear(hidden, dim_z)
        self.sigma = nn.Linear(hidden, dim_z)
        if ts_seed is not None:  # the TypeScript Linear's init, same distribution, same stream
            g = TsRng(ts_seed)
            with torch.no_grad():
                for lin in (self.trunk1, self.trunk2, self.mu, self.sigma):
                    b = 1 / math.sqrt(lin.in_features)
                    lin.weight.copy_(g.fill_uniform(lin.weight.numel(), -b, b).reshape(lin.weight.shape))
                    lin.bias.copy_(g.fill_uniform(lin.bias.numel(), -b, b))

    def forward(self, classes):
        h = F.relu(self.trunk2(F.relu(self.trunk1(F.one_hot(classes, self.num_classes).to(self.trunk1.weight.dtype)))))
        return self.mu(h), F.softplus(self.sigma(h)) + self.min_sigma


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--generator', default=f'{PRETRAINED}/fmnist_biggan32_G.pth')
    ap.add_argument('--classifier', default=f'{PRETRAINED}/fmnist_vgg_bn64.pth')
    ap.add_argument('--judge', default=f'{PRETRAINED}/fmnist_vgg_judge32.pth',
                    help="graded at the end, 100 samples a class at the generator's size ('none' to skip)")
    ap.add_argument('--classifier-size', type=int, default=64)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=None, help='default 1e-3 (1e-2 with --fixed-batch)')
    ap.add_argument('--kl', type=float, default=None, help='default 0.2 (0 with --fixed-batch)')
    ap.add_argument('--shift', type=int, default=None, help='default 4 (0 with --fixed-batch)')
    ap.add_argument('--variance', type=float, default=0.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--min-sigma', type=float, default=1e-3)
    ap.add_argument('--rng', choices=['ts', 'torch'], default='ts')
    ap.add_argument('--fixed-batch', action='store_true')
    ap.add_argument('--eps-seed', type=int, default=5, help='--fixed-batch: seed of the one eps')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--perturb', type=float, default=0.0,
                    help='multiply the initial weights by (1 + this * N(0,1)) (noise from --perturb-seed): '
                         'how far float-level differences carry a run with the same draws')
    ap.add_argument('--perturb-seed', type=int, default=0)
    ap.add_argument('--double', action='store_true', help='run everything in float64 (to see how fast float32 noise grows)')
    ap.add_argument('--max-seconds', type=float, default=None, help='stop after this much wall time')
    ap.add_argument('--window', type=int, default=10, help='running-mean window for the accuracy thresholds')
    ap.add_argument('--log', default=None, help='per-step JSONL output')
    ap.add_argument('--grid', default=None, help='PNG of 8 samples a class at the end')
    args = ap.parse_args(argv)
    fb = args.fixed_batch
    if args.lr is None:
        args.lr = 1e-2 if fb else 1e-3
    if args.kl is None:
        args.kl = 0.0 if fb else 0.2
    if args.shift is None:
        args.shift = 0 if fb else 4
    return args


def threshold_steps(acc, window, levels=(0.9, 0.99)):
    out = {}
    for lv in levels:
        out[str(lv)] = None
        for i in range(len(acc)):
            w = acc[max(0, i - window + 1):i + 1]
            if len(w) == window and sum(w) / window > lv:
                out[str(lv)] = i + 1
                break
    return out


def save_grid(path, images, per_row):
    from PIL import Image
    n, c, h, w = images.shape
    rows = (n + per_row - 1) // per_row
    grid = torch.full((3, rows * (h + 2), per_row * (w + 2)), -1.0)
    for i in range(n):
        r, q = divmod(i, per_row)
        grid[:, r * (h + 2) + 1:r * (h + 2) + 1 + h, q * (w + 2) + 1:q * (w + 2) + 1 + w] = images[i]
    arr = ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    G = BigGANGenerator(load_state_dict(args.generator))
    V = VGG(load_state_dict(args.classifier))
    for net in (G, V):
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
    factor = args.classifier_size // G.resolution
    if factor * G.resolution != args.classifier_size:
        raise SystemExit(f'classifier size {args.classifier_size} is not a multiple of {G.resolution}')
    K, D = V.num_classes, G.dim_z

    if args.rng == 'ts':
        ig = InputGenerator(K, D, args.hidden, args.min_sigma, ts_seed=args.seed)
        rng = TsRng(args.seed)
    else:
        torch.manual_seed(args.seed)
        ig = InputGenerator(K, D, args.hidden, args.min_sigma)
        rng = None
    if args.perturb > 0:
        pg = torch.Generator().manual_seed(args.perturb_seed)
        with torch.no_grad():
            for p in ig.parameters():
                p.mul_(1 + args.perturb * torch.randn(p.shape, generator=pg))
    if args.double:
        G, V, ig = G.double(), V.double(), ig.double()
    dtype = torch.float64 if args.double else torch.float32
    opt = torch.optim.Adam(ig.parameters(), lr=args.lr)

    if args.fixed_batch:
        fixed_classes = torch.arange(10) % K
        if args.rng == 'ts':
            fixed_eps = TsRng(args.eps_seed).fill_normal(len(fixed_classes) * D).reshape(-1, D)
        else:
            fixed_eps = torch.randn(len(fixed_classes), D, generator=torch.Generator().manual_seed(args.eps_seed))

    print(f'# {json.dumps(vars(args))}', flush=True)
    log = open(args.log, 'w') if args.log else None
    history = []
    t_start = time.perf_counter()
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        # Draws, in the TypeScript trainer's order: classes, eps, shift (dy, dx).
        if args.fixed_batch:
            classes, eps, dy, dx = fixed_classes, fixed_eps, 0, 0
        elif args.rng == 'ts':
            classes = torch.tensor([rng.int(K) for _ in range(args.batch)], dtype=torch.long)
            eps = rng.fill_normal(args.batch * D).reshape(args.batch, D)
            dy, dx = ((rng.int(2 * args.shift + 1) - args.shift, rng.int(2 * args.shift + 1) - args.shift)
                      if args.shift > 0 else (0, 0))
        else:
            classes = torch.randint(K, (args.batch,))
            eps = torch.randn(args.batch, D)
            dy, dx = (tuple((torch.randint(2 * args.shift + 1, (2,)) - args.shift).tolist())
                      if args.shift > 0 else (0, 0))
        eps = eps.to(dtype)
        t1 = time.perf_counter()
        mu, sigma = ig(classes)
        z = mu + sigma * eps
        x = upsample(G(z), factor)
        x = translate(x, dy, dx, -1.0)
        logits = V(x)
        ce = F.cross_entropy(logits, classes)
        loss = ce
        if args.variance > 0:
            loss = loss - args.variance * sigma.log().mean()
        if args.kl > 0:
            loss = loss + args.kl * (0.5 * (sigma ** 2 + mu ** 2 - 1) - sigma.log()).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        acc = (logits.argmax(1) == classes).float().mean().item()
        rec = {'step': step, 'loss': loss.item(), 'crossEntropy': ce.item(), 'accuracy': acc,
               'meanSigma': sigma.mean().item(), 'meanAbsMu': mu.abs().mean().item(), 'shift': [dy, dx],
               'seconds': t2 - t1, 'rngSeconds': t1 - t0}
        history.append(rec)
        if log:
            log.write(json.dumps(rec) + '\n')
            log.flush()
        print(f"step {step:4d} loss {rec['loss']:.4f} ce {rec['crossEntropy']:.4f} acc {acc:.3f} "
              f"sigma {rec['meanSigma']:.4f} |mu| {rec['meanAbsMu']:.3f} shift {dy:+d},{dx:+d} "
              f"{rec['seconds']:.3f}s (+{rec['rngSeconds']:.3f}s rng)", flush=True)
        if not math.isfinite(rec['loss']):
            print('non-finite loss: stopping')
            break
        if args.max_seconds and time.perf_counter() - t_start > args.max_seconds:
            print(f'time budget of {args.max_seconds}s reached at step {step}')
            break

    secs = sorted(r['seconds'] for r in history[1:] or history)
    accs = [r['accuracy'] for r in history]
    summary = {'steps': len(history), 'median_seconds_per_step': secs[len(secs) // 2],
               f'running_mean{args.window}_accuracy_first_above': threshold_steps(accs, args.window)}

    # Grade: frozen classifier and the independent judge, 100 samples a class (fixed noise).
    if args.judge != 'none' and not args.fixed_batch:
        J = VGG(load_state_dict(args.judge))
        g = torch.Generator().manual_seed(1234)
        with torch.no_grad():
            cls = torch.arange(K).repeat_interleave(100)
            mu, sigma = ig(cls)
            imgs = G(mu + sigma * torch.randn(len(cls), D, generator=g).to(dtype)).float()
            G, V, J = G.float(), V.float(), J.float()
            summary['final_frozen_accuracy_100_per_class'] = (V(upsample(imgs, factor)).argmax(1) == cls).float().mean().item()
            jl = J(imgs).argmax(1)
            summary['final_judge_accuracy_100_per_class'] = (jl == cls).float().mean().item()
            summary['final_judge_accuracy_per_class'] = [round((jl[cls == k] == k).float().mean().item(), 2) for k in range(K)]
        if args.grid:
            save_grid(args.grid, torch.cat([imgs[k * 100:k * 100 + 8] for k in range(K)]), 8)
    print('# summary ' + json.dumps(summary), flush=True)
    if log:
        log.close()
        with open(os.path.splitext(args.log)[0] + '.summary.json', 'w') as f:
            json.dump({'args': vars(args), **summary}, f, indent=1)
    return history, summary


if __name__ == '__main__':
    main()
