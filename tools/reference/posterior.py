"""What the targets of issue 8 ask for, measured without any input generator.

Draw N latents from G's prior N(0, I), label G's images with the frozen VGG, and for each class
pick 100 of them in two ways: (a) the tempered posterior p(z) p(c | G(z))^beta, by weighted
sampling without replacement; (b) the prior truncated to p(c | G(z)) > t. Grade the picks as
`npm run eval` does: frozen-VGG accuracy, judge accuracy, and variety (mean pairwise distance of
the judge's penultimate features, divided by the same over every real test image of the class,
from Debian's dataset-fashion-mnist).

Reference data only: it shows that samples meeting the targets exist in G's latent space and
what distribution they follow; the product (TypeScript) has to learn a sampler for them.

    /usr/bin/python3 tools/reference/posterior.py [N]      (PRIOR=path.pt also saves the labelled pool)
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import VGG, BigGANGenerator, load_state_dict, upsample  # noqa: E402

PRETRAINED = '/work/shared/pretrained'
FASHION = '/usr/share/datasets/fashion-mnist'


def spread(f):
    return (torch.cdist(f, f).sum() / (len(f) * (len(f) - 1))).item()


def real_spreads(judge):
    img = np.frombuffer(gzip.open(f'{FASHION}/t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
    lab = torch.from_numpy(np.frombuffer(gzip.open(f'{FASHION}/t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64))
    x = torch.full((len(img), 3, 32, 32), -1.0)
    x[:, :, 2:30, 2:30] = torch.from_numpy(img.astype(np.float32) / 127.5 - 1)[:, None]
    with torch.no_grad():
        feats = torch.cat([judge(x[i:i + 500], return_features=True)[1] for i in range(0, len(x), 500)])
    return [spread(feats[lab == c]) for c in range(10)]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    torch.set_num_threads(2)
    G = BigGANGenerator(load_state_dict(f'{PRETRAINED}/fmnist_biggan32_G.pth'))
    V = VGG(load_state_dict(f'{PRETRAINED}/fmnist_vgg_bn64.pth'))
    J = VGG(load_state_dict(f'{PRETRAINED}/fmnist_vgg_judge32.pth'))
    real = real_spreads(J)
    g = torch.Generator().manual_seed(7)
    z = torch.randn(n, G.dim_z, generator=g)
    probs, judged, feats = [], [], []
    with torch.no_grad():
        for i in range(0, n, 250):
            im = G(z[i:i + 250])
            probs.append(F.softmax(V(upsample(im, 2)), 1))
            logits, f = J(im, return_features=True)
            judged.append(logits.argmax(1))
            feats.append(f)
    probs, judged, feats = torch.cat(probs), torch.cat(judged), torch.cat(feats)
    if os.environ.get('PRIOR'):  # the labelled pool that sampler_sweep.py --anchor reads
        torch.save({'Z': z, 'PV': probs}, os.environ['PRIOR'])
    print(f'{n} prior samples; the frozen VGG calls them: {torch.bincount(probs.argmax(1), minlength=10).tolist()}')
    print('| pick | frozen acc. | judge acc. | variety (of real) | lowest class variety |')
    print('| --- | --- | --- | --- | --- |')

    def grade(name, pick):
        fz, ja, va = [], [], []
        for c in range(10):
            idx = pick(c)
            fz.append((probs[idx].argmax(1) == c).float().mean().item())
            ja.append((judged[idx] == c).float().mean().item())
            va.append(spread(feats[idx]) / real[c])
        print(f'| {name} | {np.mean(fz):.3f} | {np.mean(ja):.3f} | {np.mean(va):.3f} | {min(va):.2f} |')

    grade('prior, VGG argmax = c', lambda c: (probs.argmax(1) == c).nonzero().flatten()[:100])
    for beta in (1, 2, 3, 4, 5, 6, 8, 12):
        grade(f'posterior, beta {beta}', lambda c: torch.multinomial(probs[:, c] ** beta, 100, replacement=False, generator=g))
    for t in (0.5, 0.7, 0.8, 0.9):
        grade(f'prior truncated to p > {t}', lambda c: (probs[:, c] > t).nonzero().flatten()[:100])


if __name__ == '__main__':
    main()
