"""The screen behind the latent-filter sampler (src/train/latentClassifier.ts): a classifier on z,
distilled from the frozen VGG's softmax on G's own prior samples, filters prior draws before G.

Labels NTRAIN + 20,000 prior samples with the frozen VGG and both judges (cached in $CACHE),
trains an MLP z -> HIDDEN -> HIDDEN -> 10 on the first USE of them (soft cross-entropy, Adam 1e-3,
batch 256, EPOCHS epochs), and grades picks among the last 20,000: the prior filter (the ceiling),
the screen alone, and the screen followed by the frozen VGG's check, by both public judges
(accuracy, variety and nearest-neighbour distance, each against real test images). Reference data
only: the product is the TypeScript sampler, measured in docs/ablation.md.

    SEED=0 HIDDEN=256 EPOCHS=10 [USE=20000] /usr/bin/python3 tools/reference/latent_filter.py
"""
import gzip, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import VGG, BigGANGenerator, load_state_dict, upsample
import torchvision
P = '/work/shared/pretrained'; FASHION = '/usr/share/datasets/fashion-mnist'
torch.set_num_threads(2)
seed = int(os.environ.get('SEED', 0)); NTRAIN = int(os.environ.get('NTRAIN', 50000))
G = BigGANGenerator(load_state_dict(f'{P}/fmnist_biggan32_G.pth')).eval()
V = VGG(load_state_dict(f'{P}/fmnist_vgg_bn64.pth')).eval()
J = VGG(load_state_dict(f'{P}/fmnist_vgg_judge32.pth')).eval()
R = torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10)
R.load_state_dict(torch.load(f'{P}/fmnist_resnet_judge32.pth', map_location='cpu')); R.eval()
def rfeat(x):
    m = R; x = m.maxpool(m.relu(m.bn1(m.conv1(x)))); x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    f = torch.flatten(m.avgpool(x), 1); return m.fc(f), f
def spread(f): return (torch.cdist(f, f).sum() / (len(f) * (len(f) - 1))).item()
def nearest(f):
    d = torch.cdist(f, f); d.fill_diagonal_(float('inf')); return d.min(1).values.mean().item()
CACHE = os.environ.get('CACHE', '/tmp/latent_filter'); os.makedirs(CACHE, exist_ok=True)
cache = f'{CACHE}/real.pt'
if os.path.exists(cache): real = torch.load(cache)
else:
    img = np.frombuffer(gzip.open(f'{FASHION}/t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
    lab = torch.from_numpy(np.frombuffer(gzip.open(f'{FASHION}/t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64))
    x = torch.full((len(img), 3, 32, 32), -1.0); x[:, :, 2:30, 2:30] = torch.from_numpy(img.astype(np.float32) / 127.5 - 1)[:, None]
    with torch.no_grad():
        fj = torch.cat([J(x[i:i+500], return_features=True)[1] for i in range(0, len(x), 500)])
        fr = torch.cat([rfeat(x[i:i+500])[1] for i in range(0, len(x), 500)])
    real = {}
    for name, f in (('vgg', fj), ('resnet', fr)):
        real[name] = ([spread(f[lab == c]) for c in range(10)], [nearest(f[lab == c][:100]) for c in range(10)])
    torch.save(real, cache)
def label(z):
    out = {'pv': [], 'jl': [], 'jf': [], 'rl': [], 'rf': []}
    with torch.no_grad():
        for i in range(0, len(z), 500):
            im = G(z[i:i+500]); out['pv'].append(F.softmax(V(upsample(im, 2)), 1))
            l, f = J(im, return_features=True); out['jl'].append(l.argmax(1)); out['jf'].append(f)
            l, f = rfeat(im); out['rl'].append(l.argmax(1)); out['rf'].append(f)
    return {k: torch.cat(v) for k, v in out.items()}
poolf = f'{CACHE}/pool{seed}_{NTRAIN}.pt'
g = torch.Generator().manual_seed(1000 + seed)
if os.path.exists(poolf): pool = torch.load(poolf)
else:
    t0 = time.time(); z = torch.randn(NTRAIN + 20000, G.dim_z, generator=g); pool = label(z); pool['z'] = z
    torch.save(pool, poolf); print(f'labelled {len(z)} in {time.time()-t0:.0f}s', flush=True)
z, pv = pool['z'], pool['pv']; USE = int(os.environ.get('USE', NTRAIN)); ztr, ptr = z[:USE], pv[:USE]; zte, pte = z[NTRAIN:], pv[NTRAIN:]
torch.manual_seed(seed)
H = int(os.environ.get('HIDDEN', 512))
mlp = nn.Sequential(nn.Linear(120, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 10))
opt = torch.optim.Adam(mlp.parameters(), 1e-3)
EP = int(os.environ.get('EPOCHS', 30)); t0 = time.time()
for ep in range(EP):
    perm = torch.randperm(USE)
    for i in range(0, USE, 256):
        idx = perm[i:i+256]; logp = F.log_softmax(mlp(ztr[idx]), 1)
        loss = -(ptr[idx] * logp).sum(1).mean(); opt.zero_grad(); loss.backward(); opt.step()
    if ep % 10 == 9 or ep == EP - 1:
        with torch.no_grad(): q = F.softmax(mlp(zte), 1)
        print(f'epoch {ep+1} loss {loss.item():.3f} test argmax agreement {(q.argmax(1) == pte.argmax(1)).float().mean():.3f} ({time.time()-t0:.0f}s)', flush=True)
with torch.no_grad(): q = F.softmax(mlp(zte), 1)
def grade(name, pick, cost=None):
    rows = []
    fz, acc, var, nn_ = [], {'vgg': [], 'resnet': []}, {'vgg': [], 'resnet': []}, {'vgg': [], 'resnet': []}
    for c in range(10):
        idx = pick(c)
        if len(idx) < 20: print(f'  {name}: class {c} only {len(idx)}'); return
        idx = idx[:100]
        fz.append((pte[idx].argmax(1) == c).float().mean().item())
        for jn, lk, fk in (('vgg', 'jl', 'jf'), ('resnet', 'rl', 'rf')):
            acc[jn].append((pool[lk][NTRAIN:][idx] == c).float().mean().item())
            f = pool[fk][NTRAIN:][idx]; var[jn].append(spread(f) / real[jn][0][c]); nn_[jn].append(nearest(f) / real[jn][1][c])
    m = np.mean
    print(f'| {name} | {m(fz):.3f} (min {min(fz):.2f}) | {m(acc["vgg"]):.3f} | {m(var["vgg"]):.2f} | {m(nn_["vgg"]):.2f} | {m(acc["resnet"]):.3f} | {m(var["resnet"]):.2f} | {m(nn_["resnet"]):.2f} | {cost or ""} |', flush=True)
print(f'seed {seed}: | pick | frozen | vgg acc | vgg var | vgg nn | resnet acc | resnet var | resnet nn | draws/kept (worst class) |')
for p in (0.8, 0.9):
    grade(f'prior filter p>={p} (G passes)', lambda c: (pte[:, c] >= p).nonzero().flatten(), f'{len(pte)/min((pte[:, c] >= p).sum().item() for c in range(10)):.0f}')
for t in (0.7, 0.8, 0.9):
    grade(f'latent filter q>={t}', lambda c: (q[:, c] >= t).nonzero().flatten(), f'{len(q)/max(1,min((q[:, c] >= t).sum().item() for c in range(10))):.0f}')
    ok = lambda c: (q[:, c] >= t) & (pte.argmax(1) == c)
    passes = [((q[:, c] >= t).sum() / ok(c).sum()).item() for c in range(10)]
    grade(f'latent filter q>={t} + frozen argmax check', lambda c: ok(c).nonzero().flatten(), f'G passes {np.mean(passes):.2f} (worst {max(passes):.2f})')
    okp = lambda c: (q[:, c] >= t) & (pte[:, c] >= 0.9)
    passes = [((q[:, c] >= t).sum() / okp(c).sum()).item() for c in range(10)]
    grade(f'latent filter q>={t} + frozen p>=0.9 check', lambda c: okp(c).nonzero().flatten(), f'G passes {np.mean(passes):.2f} (worst {max(passes):.2f})')
