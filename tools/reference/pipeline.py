"""PyTorch rebuild of the two frozen networks from their state dicts alone (see /work/shared/MODELS.md).

BigGAN generator (BigGAN-PyTorch layout, hierarchical latents, conditional batchnorm with (1 + gain),
spectral norm baked with one power-iteration step from u0, self-attention, output layer) and a
torchvision-layout VGG with batchnorm (pools inferred from the index gaps, plus a final pool;
adaptive average pool; classifier with relus). Both in eval mode, parameters frozen.

Run as a script to check the rebuild against the reference fixtures:

    /usr/bin/python3 tools/reference/pipeline.py

Reference data only: the project itself is TypeScript/WebGPU.
"""
import argparse
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

SHARED = '/work/shared'


def load_state_dict(path):
    sd = torch.load(path, map_location='cpu')
    if not isinstance(sd, dict):
        raise ValueError(f'{path}: expected a state dict, got {type(sd).__name__}')
    return sd


def _need(sd, key, what):
    if key not in sd:
        raise KeyError(f"missing key '{key}' ({what})")
    return sd[key]


# ----------------------------------------------------------------------------------------------
# Spectral norm: one power-iteration step from u0, not updating u0; bake W / sigma once.
# ----------------------------------------------------------------------------------------------

def _normalize(x, eps=1e-12):
    return x / torch.clamp(x.norm(), min=eps)


def spectral_normed(sd, prefix):
    w = _need(sd, prefix + ".weight", "spectral-normed weight").float()
    u0 = _need(sd, prefix + ".u0", "spectral-norm vector").float()
    wm = w.reshape(w.shape[0], -1)
    if u0.numel() != wm.shape[0]:
        raise ValueError(f"'{prefix}.u0' has {u0.numel()} entries, weight has {wm.shape[0]} rows")
    u0 = u0.reshape(1, -1)
    v = _normalize(u0 @ wm)
    u = _normalize(v @ wm.t())
    sigma = (v @ wm.t() @ u.t()).squeeze()
    return (w / sigma).float()


# ----------------------------------------------------------------------------------------------
# BigGAN generator
# ----------------------------------------------------------------------------------------------

class BigGANGenerator(nn.Module):
    def __init__(self, sd):
        super().__init__()
        self.register_buffer('shared', _need(sd, 'shared.weight', 'class embedding').float().clone())
        self.n_classes, self.shared_dim = self.shared.shape
        lin_w = spectral_normed(sd, 'linear')
        self.register_buffer('linear_w', lin_w)
        self.register_buffer('linear_b', _need(sd, 'linear.bias', 'first layer bias').float().clone())
        block_ids = sorted({int(m.group(1)) for k in sd for m in [re.match(r'blocks\.(\d+)\.0\.', k)] if m})
        if block_ids != list(range(len(block_ids))) or not block_ids:
            raise ValueError(f'blocks are not numbered 0..n-1: {block_ids}')
        self.n_blocks = len(block_ids)
        bn_in = _need(sd, 'blocks.0.0.bn1.gain.weight', 'conditional batchnorm gain').shape[1]
        chunk = lin_w.shape[1]
        if bn_in == self.shared_dim:
            self.hier = False
            self.dim_z = chunk
        elif bn_in == self.shared_dim + chunk:
            self.hier = True
            self.dim_z = chunk * (self.n_blocks + 1)
        else:
            raise ValueError(f"'blocks.0.0.bn1.gain.weight' takes {bn_in} inputs: neither shared_dim "
                             f'{self.shared_dim} nor shared_dim + linear in_features {self.shared_dim + chunk}')
        self.chunk = chunk
        c0 = _need(sd, 'blocks.0.0.conv1.weight', 'block 0 conv1').shape[1]
        if lin_w.shape[0] % (c0 * 16):
            raise ValueError(f"'linear.weight' has {lin_w.shape[0]} outputs, not C0*4*4 with C0 = {c0}")
        self.c0 = c0
        self.bottom = int(round((lin_w.shape[0] // c0) ** 0.5))
        self.resolution = self.bottom * 2 ** self.n_blocks
        self.blocks = []
        for i in range(self.n_blocks):
            p = f'blocks.{i}.0.'
            blk = {}
            for c in ('conv1', 'conv2', 'conv_sc'):
                blk[c + '_w'] = spectral_normed(sd, p + c)
                blk[c + '_b'] = _need(sd, p + c + '.bias', 'conv bias').float().clone()
            for bn in ('bn1', 'bn2'):
                blk[bn + '_mean'] = _need(sd, p + bn + '.stored_mean', 'cbn mean').float().clone()
                blk[bn + '_var'] = _need(sd, p + bn + '.stored_var', 'cbn var').float().clone()
                blk[bn + '_gain'] = spectral_normed(sd, p + bn + '.gain')
                blk[bn + '_bias'] = spectral_normed(sd, p + bn + '.bias')
            a = f'blocks.{i}.1.'
            if a + 'gamma' in sd:
                for c in ('theta', 'phi', 'g', 'o'):
                    blk['att_' + c] = spectral_normed(sd, a + c)
                blk['att_gamma'] = sd[a + 'gamma'].float().clone().reshape(())
            for k, v in blk.items():
                self.register_buffer(f'b{i}_{k}', v)
            self.blocks.append(sorted(blk))
        self.register_buffer('out_gain', _need(sd, 'output_layer.0.gain', 'output bn').float().clone())
        self.register_buffer('out_bias', _need(sd, 'output_layer.0.bias', 'output bn').float().clone())
        self.register_buffer('out_mean', _need(sd, 'output_layer.0.stored_mean', 'output bn').float().clone())
        self.register_buffer('out_var', _need(sd, 'output_layer.0.stored_var', 'output bn').float().clone())
        self.register_buffer('out_w', spectral_normed(sd, 'output_layer.2'))
        self.register_buffer('out_b', _need(sd, 'output_layer.2.bias', 'output conv').float().clone())
        self.eval()

    def _b(self, i, k):
        return getattr(self, f'b{i}_{k}')

    def _cbn(self, x, y, i, bn):
        out = F.batch_norm(x, self._b(i, bn + '_mean'), self._b(i, bn + '_var'), None, None, False, 0.0, 1e-5)
        gain = 1 + F.linear(y, self._b(i, bn + '_gain'))
        bias = F.linear(y, self._b(i, bn + '_bias'))
        return out * gain[:, :, None, None] + bias[:, :, None, None]

    def _attention(self, x, i):
        B, C, H, W = x.shape
        theta = F.conv2d(x, self._b(i, 'att_theta'))
        phi = F.max_pool2d(F.conv2d(x, self._b(i, 'att_phi')), 2)
        g = F.max_pool2d(F.conv2d(x, self._b(i, 'att_g')), 2)
        theta = theta.reshape(B, C // 8, H * W)
        phi = phi.reshape(B, C // 8, H * W // 4)
        g = g.reshape(B, C // 2, H * W // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = F.conv2d(torch.bmm(g, beta.transpose(1, 2)).reshape(B, C // 2, H, W), self._b(i, 'att_o'))
        return x + self._b(i, 'att_gamma') * o

    def forward(self, z, classes=None):
        B = z.shape[0]
        if classes is None:
            classes = torch.zeros(B, dtype=torch.long)
        y = self.shared[classes]
        if self.hier:
            zs = torch.split(z, self.chunk, 1)
            z0 = zs[0]
            ys = [torch.cat([y, c], 1) for c in zs[1:]]
        else:
            z0 = z
            ys = [y] * self.n_blocks
        h = F.linear(z0, self.linear_w, self.linear_b).reshape(B, -1, self.bottom, self.bottom)
        for i in range(self.n_blocks):
            x = h
            h = F.relu(self._cbn(h, ys[i], i, 'bn1'))
            h = F.interpolate(h, scale_factor=2, mode='nearest')
            x = F.interpolate(x, scale_factor=2, mode='nearest')
            h = F.conv2d(h, self._b(i, 'conv1_w'), self._b(i, 'conv1_b'), padding=1)
            h = F.relu(self._cbn(h, ys[i], i, 'bn2'))
            h = F.conv2d(h, self._b(i, 'conv2_w'), self._b(i, 'conv2_b'), padding=1)
            h = h + F.conv2d(x, self._b(i, 'conv_sc_w'), self._b(i, 'conv_sc_b'))
            if f'b{i}_att_gamma' in dict(self.named_buffers()):
                h = self._attention(h, i)
        h = F.batch_norm(h, self.out_mean, self.out_var, self.out_gain, self.out_bias, False, 0.0, 1e-5)
        h = F.conv2d(F.relu(h), self.out_w, self.out_b, padding=1)
        return torch.tanh(h)


# ----------------------------------------------------------------------------------------------
# VGG (torchvision layout, with batchnorm)
# ----------------------------------------------------------------------------------------------

class VGG(nn.Module):
    def __init__(self, sd, final_pool=True):
        super().__init__()
        convs = sorted({int(m.group(1)) for k in sd for m in [re.match(r'features\.(\d+)\.weight$', k)] if m
                        and sd[k].dim() == 4})
        if not convs:
            raise ValueError('no features.{i}.weight conv layers')
        layers = []
        for n, i in enumerate(convs):
            w = sd[f'features.{i}.weight'].float().clone()
            b = _need(sd, f'features.{i}.bias', 'conv bias').float().clone()
            has_bn = f'features.{i + 1}.running_mean' in sd
            layer = {'w': w, 'b': b}
            if has_bn:
                layer['bn'] = tuple(_need(sd, f'features.{i + 1}.{k}', 'batchnorm').float().clone()
                                    for k in ('weight', 'bias', 'running_mean', 'running_var'))
            nxt = convs[n + 1] if n + 1 < len(convs) else None
            used = 2 + (1 if has_bn else 0)  # conv, [bn], relu
            if nxt is None:
                layer['pool'] = final_pool
            else:
                gap = nxt - i
                if gap == used:
                    layer['pool'] = False
                elif gap == used + 1:
                    layer['pool'] = True
                else:
                    raise ValueError(f"features.{i} -> features.{nxt}: index gap {gap} fits neither "
                                     f'conv{"+bn" if has_bn else ""}+relu nor with a max-pool')
            layers.append(layer)
        self.layers = layers
        for n, l in enumerate(layers):
            self.register_buffer(f'c{n}_w', l['w'])
            self.register_buffer(f'c{n}_b', l['b'])
            if 'bn' in l:
                for k, v in zip(('g', 'bb', 'm', 'v'), l['bn']):
                    self.register_buffer(f'c{n}_bn_{k}', v)
        fcs = sorted({int(m.group(1)) for k in sd for m in [re.match(r'classifier\.(\d+)\.weight$', k)] if m})
        self.fcs = []
        for j in fcs:
            self.register_buffer(f'fc{j}_w', sd[f'classifier.{j}.weight'].float().clone())
            self.register_buffer(f'fc{j}_b', _need(sd, f'classifier.{j}.bias', 'linear bias').float().clone())
            self.fcs.append(j)
        c_last = layers[-1]['w'].shape[0]
        in0 = sd[f'classifier.{fcs[0]}.weight'].shape[1]
        if in0 % c_last:
            raise ValueError(f"'classifier.{fcs[0]}.weight' in_features {in0} is not a multiple of {c_last} channels")
        side = int(round((in0 // c_last) ** 0.5))
        if side * side * c_last != in0:
            raise ValueError(f"'classifier.{fcs[0]}.weight' in_features {in0} is not {c_last} x a square")
        self.pool_out = side
        self.num_classes = sd[f'classifier.{fcs[-1]}.weight'].shape[0]
        self.eval()

    def forward(self, x, return_features=False):
        for n, l in enumerate(self.layers):
            x = F.conv2d(x, getattr(self, f'c{n}_w'), getattr(self, f'c{n}_b'), padding=1)
            if 'bn' in l:
                x = F.batch_norm(x, getattr(self, f'c{n}_bn_m'), getattr(self, f'c{n}_bn_v'),
                                 getattr(self, f'c{n}_bn_g'), getattr(self, f'c{n}_bn_bb'), False, 0.0, 1e-5)
            x = F.relu(x)
            if l['pool']:
                x = F.max_pool2d(x, 2, 2)
        x = F.adaptive_avg_pool2d(x, self.pool_out).flatten(1)
        feats = None
        for k, j in enumerate(self.fcs):
            x = F.linear(x, getattr(self, f'fc{j}_w'), getattr(self, f'fc{j}_b'))
            if k < len(self.fcs) - 1:
                x = F.relu(x)
                feats = x
        return (x, feats) if return_features else x


def upsample(images, factor):
    return images if factor == 1 else F.interpolate(images, scale_factor=factor, mode='nearest')


def translate(img, dy, dx, fill=-1.0):
    """out[.., y, x] = img[.., y - dy, x - dx] where inside, else fill (as src/kernels/translate.ts)."""
    if dy == 0 and dx == 0:
        return img
    B, C, H, W = img.shape
    p = max(abs(dy), abs(dx))
    padded = F.pad(img, (p, p, p, p), value=fill)
    return padded[:, :, p - dy:p - dy + H, p - dx:p - dx + W]


# ----------------------------------------------------------------------------------------------
# Checks against the fixtures
# ----------------------------------------------------------------------------------------------

def rel(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30)).item()


def check():
    torch.set_num_threads(2)
    results = {}
    # Small fixtures: BigGAN 16 channels, tiny VGG
    G = BigGANGenerator(load_state_dict(f'{SHARED}/fixtures/biggan32_ch4.pth'))
    io = torch.load(f'{SHARED}/fixtures/biggan32_ch4.io.pth')
    cfg = io['config'].tolist()
    assert [G.resolution, G.c0, int(G.hier), G.n_classes, G.dim_z, G.shared_dim][:1] == cfg[:1], cfg
    assert G.dim_z == cfg[4] and G.shared_dim == cfg[5] and int(G.hier) == cfg[2], (cfg, G.dim_z)
    z = io['z'].clone().requires_grad_(True)
    img = G(z, io['y'])
    (img * io['cotangent']).sum().backward()
    results['biggan32_ch4 image'] = rel(img.detach(), io['image'])
    results['biggan32_ch4 grad_z'] = rel(z.grad, io['grad_z'])
    # legacy-format copy loads to the same network
    G2 = BigGANGenerator(load_state_dict(f'{SHARED}/fixtures/biggan32_ch4.legacy.pth'))
    with torch.no_grad():
        results['biggan32_ch4 legacy image'] = rel(G2(io['z'], io['y']), io['image'])

    V = VGG(load_state_dict(f'{SHARED}/fixtures/vgg_bn_tiny.pth'))
    io = torch.load(f'{SHARED}/fixtures/vgg_bn_tiny.io.pth')
    x = io['x'].clone().requires_grad_(True)
    logits = V(x)
    loss = F.cross_entropy(logits, io['target'])
    loss.backward()
    results['vgg_bn_tiny logits'] = rel(logits.detach(), io['logits'])
    results['vgg_bn_tiny loss'] = rel(loss.detach(), io['loss'])
    results['vgg_bn_tiny grad_x'] = rel(x.grad, io['grad_x'])

    # The real default pair, end to end
    G = BigGANGenerator(load_state_dict(f'{SHARED}/pretrained/fmnist_biggan32_G.pth'))
    V = VGG(load_state_dict(f'{SHARED}/pretrained/fmnist_vgg_bn64.pth'))
    io = torch.load(f'{SHARED}/pretrained/fmnist_pair.io.pth')
    z = io['z'].clone().requires_grad_(True)
    img = G(z)
    logits = V(upsample(img, 2))
    loss = F.cross_entropy(logits, io['target'])
    loss.backward()
    results['fmnist_pair image'] = rel(img.detach(), io['image'])
    results['fmnist_pair logits'] = rel(logits.detach(), io['logits'])
    results['fmnist_pair loss'] = rel(loss.detach(), io['loss'])
    results['fmnist_pair grad_z'] = rel(z.grad, io['grad_z'])
    # How far float32 itself is from exact on this trained pair: the same rebuild in float64
    # against the fixture (made in float32 by the original code) and against ours.
    G64, V64 = G.double(), V.double()
    z64 = io['z'].double().requires_grad_(True)
    img64 = G64(z64)
    F.cross_entropy(V64(upsample(img64, 2)), io['target']).backward()
    noise = {'fixture image vs float64': rel(io['image'], img64.detach()),
             'ours image vs float64': rel(img.detach(), img64.detach()),
             'fixture grad_z vs float64': rel(io['grad_z'], z64.grad),
             'ours grad_z vs float64': rel(z.grad, z64.grad)}
    G.float(), V.float()
    return results, noise, G, V


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tol', type=float, default=1e-4,
                    help='fail above this max relative error (float32 through a trained G: ~1e-5, see the float64 lines)')
    args = ap.parse_args()
    results, noise, G, V = check()
    print(f'default pair: G resolution {G.resolution}, C0 {G.c0}, hier {G.hier}, dim_z {G.dim_z}, '
          f'shared_dim {G.shared_dim}; VGG {len(V.layers)} convs, pools '
          f'{[n for n, l in enumerate(V.layers) if l["pool"]]}, avgpool {V.pool_out}x{V.pool_out}')
    worst = 0.0
    for k, v in results.items():
        print(f'{k:32s} max rel err {v:.3e}')
        worst = max(worst, v)
    print('float32 noise on the default pair (max rel err against a float64 run of this rebuild):')
    for k, v in noise.items():
        print(f'  {k:30s} {v:.3e}')
    print(f'worst {worst:.3e} ({"ok" if worst <= args.tol else "FAIL"} at tol {args.tol:g})')
    sys.exit(0 if worst <= args.tol else 1)


if __name__ == '__main__':
    main()
