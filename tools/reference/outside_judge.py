"""An outside judge of yet another family (issues 15 and 17): reference data only, never in the product.

The public judges are a VGG and a ResNet. This one is torchvision's MobileNetV2 (inverted residuals,
depthwise convolutions), trained here on Fashion-MNIST's training images, padded to 32x32 and
replicated to RGB in [-1, 1] as the generators draw them. Its weights stay outside the repository
(--out), and nothing in the project reads them: it grades samples written by `npm run sample --out
<file>.npy`, after every choice it could inform was made.

    /usr/bin/python3 tools/reference/outside_judge.py train --out /tmp/judge.pt
    /usr/bin/python3 tools/reference/outside_judge.py grade --judge /tmp/judge.pt --samples <dir>

`grade` reads <dir>/class<c>.npy (N, 3, 32, 32) for c = 0..9 and prints, per class and overall: the
share the judge gives the requested class, that over its accuracy on the real test images of the
class, and variety: the mean pairwise distance of its pooled features within the class over that of
the real test images of the class (all of them), as the project's judges are read.
"""
import argparse, gzip, json, os, sys, time
import numpy as np, torch, torch.nn.functional as F, torchvision

FASHION = '/usr/share/datasets/fashion-mnist'
torch.set_num_threads(2)


def split(name):
    images = np.frombuffer(gzip.open(f'{FASHION}/{name}-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.open(f'{FASHION}/{name}-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64)
    x = torch.full((len(images), 3, 32, 32), -1.0)
    x[:, :, 2:30, 2:30] = torch.from_numpy(images.astype(np.float32) / 127.5 - 1)[:, None]
    return x, torch.from_numpy(labels)


def model():
    return torchvision.models.mobilenet_v2(num_classes=10)


def features(m, x):
    """Logits and the pooled features (the classifier's input)."""
    f = F.adaptive_avg_pool2d(m.features(x), 1).flatten(1)
    return m.classifier(f), f


def batched(m, x, size=500):
    with torch.no_grad():
        parts = [features(m, x[i:i + size]) for i in range(0, len(x), size)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def spread(f):
    return (torch.cdist(f, f).sum() / (len(f) * (len(f) - 1))).item()


def train(args):
    x, y = split('train')
    tx, ty = split('t10k')
    torch.manual_seed(args.seed)
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    steps = args.epochs * (len(x) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    t0 = time.time()
    for epoch in range(args.epochs):
        m.train()
        order = torch.randperm(len(x))
        for k in range(len(x) // args.batch):
            idx = order[k * args.batch:(k + 1) * args.batch]
            xb = x[idx]
            # Shifts of up to 3 px (padding with the background) and horizontal flips, as the ResNet judge was trained.
            dy, dx = np.random.randint(-3, 4, 2)
            xb = torch.roll(F.pad(xb, (3, 3, 3, 3), value=-1.0), (int(dy), int(dx)), (2, 3))[:, :, 3:35, 3:35]
            if np.random.rand() < 0.5:
                xb = xb.flip(3)
            loss = F.cross_entropy(m(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if k % 100 == 0:
                print(f'epoch {epoch + 1} step {k}: loss {loss.item():.3f} ({time.time() - t0:.0f} s)', flush=True)
        m.eval()
        logits, _ = batched(m, tx)
        print(f'epoch {epoch + 1}: test accuracy {(logits.argmax(1) == ty).float().mean().item():.4f}', flush=True)
    m.eval()
    logits, f = batched(m, tx)
    correct = logits.argmax(1) == ty
    real = {
        'accuracy': correct.float().mean().item(),
        'perClass': [correct[ty == c].float().mean().item() for c in range(10)],
        'spread': [spread(f[ty == c]) for c in range(10)],
    }
    tmp = args.out + '.tmp'
    torch.save({'state_dict': m.state_dict(), 'real': real, 'epochs': args.epochs, 'seed': args.seed}, tmp)
    os.replace(tmp, args.out)
    print(json.dumps(real, indent=1))


def grade(args):
    saved = torch.load(args.judge)
    m = model()
    m.load_state_dict(saved['state_dict'])
    m.eval()
    real = saved['real']
    rows = []
    for c in range(10):
        x = torch.from_numpy(np.load(os.path.join(args.samples, f'class{c}.npy')).astype(np.float32))
        logits, f = batched(m, x)
        acc = (logits.argmax(1) == c).float().mean().item()
        rows.append({'class': c, 'n': len(x), 'accuracy': acc, 'ofReal': acc / real['perClass'][c], 'variety': spread(f) / real['spread'][c]})
    overall = {k: float(np.mean([r[k] for r in rows])) for k in ('accuracy', 'variety')}
    overall['ofReal'] = overall['accuracy'] / real['accuracy']
    out = {'samples': args.samples, 'real': real['accuracy'], 'overall': overall, 'perClass': rows}
    if args.json:
        tmp = args.json + '.tmp'
        with open(tmp, 'w') as fh:
            json.dump(out, fh, indent=1)
        os.replace(tmp, args.json)
    print(f"{args.samples}: accuracy {overall['accuracy']:.3f} ({overall['ofReal']:.3f} of real {real['accuracy']:.3f}), variety {overall['variety']:.3f} of real")
    print('  per class accuracy: ' + ' '.join(f"{r['accuracy']:.2f}" for r in rows))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    t = sub.add_parser('train')
    t.add_argument('--out', required=True)
    t.add_argument('--epochs', type=int, default=4)
    t.add_argument('--batch', type=int, default=128)
    t.add_argument('--seed', type=int, default=0)
    g = sub.add_parser('grade')
    g.add_argument('--judge', required=True)
    g.add_argument('--samples', required=True)
    g.add_argument('--json')
    args = p.parse_args()
    {'train': train, 'grade': grade}[args.command](args)
