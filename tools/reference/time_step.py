"""PyTorch timer of ONE training step of `npm run train`'s default configuration (eager, float32).

The peer figure for the bench's `training step` rows (bench/trainStep.ts, images/s at batch 64):
the same work as src/train/step.ts's trainingStep on the pipeline bench/trainStep.ts builds
(buildBenchPipeline), written in plain PyTorch.

  host draws (numpy): classes, eps (batch x 120 normals), a component per row, the shift (dy, dx)
  upload: target, eps, pick, anchor rows, shift (five small host-to-device copies)
  input generator (src/train/inputGenerator.ts; hidden 256, 16 components, 1,055,488 parameters):
      one-hot -> trunk1 -> relu -> trunk2 -> relu -> mu head, sigma head (softplus + 1e-3),
      both (batch, 16 x 120); the picked component's rows; mu += its anchor; z = mu + sigma eps
  frozen BigGAN G (models/fmnist_biggan32_G.safetensors, spectral norm baked at conversion, as the
      TS engine loads it): G(z) (batch, 3, 32, 32), in src/models/biggan.ts's order (the 1x1
      shortcut conv before its nearest upsampling)
  nearest upsample x2 -> 64; shift by (dy, dx) in [-4, 4]^2 with fill -1 (read on the device,
      run every step, (0, 0) included, as translateBy)
  frozen VGG (models/fmnist_vgg_bn64.safetensors), src/models/vgg.ts's forwardWithFeatures: each
      batchnorm folded into its conv every forward, conv + relu, pools, average pool, classifier;
      logits and the penultimate features (256)
  loss (src/train/pipeline.ts lossOf, TRAINING_DEFAULTS.weights): cross-entropy hinged at
      confidence 0.9 + 1 x prior-range penalty (bench/trainStep.ts's stand-in range: zero means,
      unit inverse variances, radius 1e30) + 0.2 x KL; anchor, variance, diversity weights are 0
  statistics: plain cross-entropy, correct count (ties count), mean sigma
  backward (to the input generator only: G and the VGG are frozen), Adam (lr 3e-3, torch's
      defaults otherwise), zero_grad(set_to_none=True), then ONE read-back to the host of
      [loss, cross-entropy, correct, mean sigma] stacked (what synchronises, as the TS step's read)

Anchors: the bench's buildPipeline (src/train/trainer.ts) places none (placeComponents runs only in
train()), so the anchor table is the InputGenerator's zeros, gathered and added all the same.

Timing protocol: float32 throughout, TF32 off (torch.backends.cuda.matmul.allow_tf32 = False,
torch.backends.cudnn.allow_tf32 = False; the flags, get_float32_matmul_precision() and a
measured probe of both are recorded), cudnn.benchmark False (default), eager (no torch.compile).
A gc.collect() before each step (outside the timed span, as the bench's full GC; what exists before
the steps is gc.freeze()d, so it is quick), then
time.perf_counter() around the whole step: the host draws, the uploads, forward, backward, Adam,
zero_grad and the read-back. `--warmup` untimed steps first, then `--steps` timed ones: median,
p10, p90 ms and images/s = batch * 1000 / median.

`--cuda-graph` adds a second row: the same step captured once as a CUDA graph (static input
buffers, Adam(capturable=True)) and replayed each step after copying the step's draws in: the
peer of the bench's `training step, replay` row. It runs after the eager row is written; a
failure there is recorded in the JSON and does not touch the eager row.

Usage (needs only torch, numpy and this repository's models/ folder):

    python3 tools/reference/time_step.py --json time_step.json                  # cuda if available
    python3 tools/reference/time_step.py --device cpu --steps 3 --warmup 1      # a quick CPU run
    /usr/bin/python3 tools/reference/time_step.py --check   # the models against the .pth ones

`--check` (CPU) compares the safetensors-built models with those tools/reference/pipeline.py
builds from /work/shared/pretrained/*.pth (that part skipped, with a note, where the folder is
absent) and with the repository's fixture models/fmnist_pair.io.pth, checks the step's constants
against src/train/defaults.ts and the shift against pipeline.translate, runs two whole steps with
the TS engine's initial weights and draws (train_reference.py's port of its Rng) against the
statistics the TS engine gave (TS_STEPS_BATCH8), and counts the input generator's parameters.

Reference data only: the project itself is TypeScript/WebGPU.
"""
import argparse
import gc
import json
import math
import os
import platform
import re
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import pipeline as ref  # noqa: E402  (tools/reference/pipeline.py: the model code reused here)

G_PATH = os.path.join(ROOT, 'models', 'fmnist_biggan32_G.safetensors')
V_PATH = os.path.join(ROOT, 'models', 'fmnist_vgg_bn64.safetensors')
PAIR_IO = os.path.join(ROOT, 'models', 'fmnist_pair.io.pth')
SHARED_PRETRAINED = '/work/shared/pretrained'

# src/train/defaults.ts TRAINING_DEFAULTS (checked against the file by --check)
LR = 3e-3
HIDDEN = 256
COMPONENTS = 16
MIN_SIGMA = 1e-3
CLASSIFIER_SIZE = 64
GENERATOR_CLASS = 0
WEIGHTS = {'variance': 0.0, 'kl': 0.2, 'shift': 4, 'diversity': 0.0, 'confidence': 0.9, 'priorRange': 1.0, 'anchor': 0.0}
# The TS InputGenerator's parameter count at these settings (10 classes, dimZ 120), counted with
# `new InputGenerator({numClasses: 10, dimZ: 120, hidden: 256, minSigma: 1e-3, components: 16}).parameters()`.
TS_INPUT_GENERATOR_PARAMETERS = 1_055_488


# ----------------------------------------------------------------------------------------------
# Safetensors: a reader of our own (8-byte little-endian header length, JSON header, raw data)
# ----------------------------------------------------------------------------------------------

_ST_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2',
              'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}


def read_safetensors(path):
    """{name: float/int tensor (CPU)} and the header's __metadata__ ({} if none)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = memoryview(raw)[8 + n:]
    meta = header.pop('__metadata__', {}) or {}
    tensors = {}
    for name, info in header.items():
        if info['dtype'] not in _ST_DTYPES:
            raise ValueError(f'{path}: {name} has dtype {info["dtype"]}, which this reader does not read')
        start, end = info['data_offsets']
        arr = np.frombuffer(data[start:end], dtype=_ST_DTYPES[info['dtype']]).reshape(info['shape'])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


# ----------------------------------------------------------------------------------------------
# The frozen models: pipeline.py's modules, built from the repository's safetensors
# ----------------------------------------------------------------------------------------------

def generator_from_safetensors(path=G_PATH):
    """pipeline.BigGANGenerator on converted weights: spectral norm is already baked in them, so
    its spectral_normed (which needs the .pth's u0) is swapped for 'take the weight as is'."""
    sd, meta = read_safetensors(path)
    if meta.get('format') != 'biggan-generator' or 'baked' not in meta.get('spectral_norm', ''):
        raise ValueError(f'{path}: expected a converted biggan-generator with spectral norm baked, got {meta}')
    G = _with_spectral_norm(lambda s, prefix: ref._need(s, prefix + '.weight', 'baked weight').float().clone(),
                            ref.BigGANGenerator, sd)
    G.config = json.loads(meta['config'])
    return G


def _with_spectral_norm(fn, build, sd):
    """build(sd) with pipeline.py's spectral_normed(sd, prefix) replaced by fn while it runs."""
    saved = ref.spectral_normed
    ref.spectral_normed = fn
    try:
        return build(sd)
    finally:
        ref.spectral_normed = saved


def _spectral_normed_f64(sd, prefix):
    """pipeline.spectral_normed in float64 (one power-iteration step from u0), cast to float32."""
    w = ref._need(sd, prefix + '.weight', 'spectral-normed weight').double()
    u0 = ref._need(sd, prefix + '.u0', 'spectral-norm vector').double().reshape(1, -1)
    wm = w.reshape(w.shape[0], -1)
    v = ref._normalize(u0 @ wm)
    u = ref._normalize(v @ wm.t())
    return (w / (v @ wm.t() @ u.t()).squeeze()).float()


def classifier_from_safetensors(path=V_PATH):
    """pipeline.VGG on converted weights (the key names are torchvision's, as in the .pth)."""
    sd, meta = read_safetensors(path)
    if meta.get('format') != 'vgg':
        raise ValueError(f'{path}: expected a converted vgg, got {meta}')
    config = json.loads(meta['config'])
    if config.get('normalize'):
        raise ValueError(f'{path}: ImageNet normalisation inside is not mirrored here')
    V = ref.VGG(sd)
    V.config = config
    return V


def freeze(m):
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    for b in m.buffers():
        b.requires_grad_(False)
    return m


class GeneratorTS(nn.Module):
    """G's forward in src/models/biggan.ts's order, on a pipeline.BigGANGenerator's buffers
    (references to them, so it follows G to the device): the relu fused into each batchnorm
    there is a separate op here; upsample + conv1 is one kernel there, two ops here; the 1x1
    shortcut conv runs before the upsampling (as there: 4x fewer multiply-adds than pipeline.py)."""

    def __init__(self, G):
        super().__init__()
        self.G = G
        self.eps = float(getattr(G, 'config', {}).get('eps', 1e-5))

    def forward(self, z, y):
        G, eps = self.G, self.eps
        B = z.shape[0]
        if G.hier:
            zs = torch.split(z, G.chunk, 1)
            z0 = zs[0]
        else:
            zs, z0 = None, z
        h = F.linear(z0, G.linear_w, G.linear_b).reshape(B, -1, G.bottom, G.bottom)
        for i in range(G.n_blocks):
            b = lambda k, i=i: getattr(G, f'b{i}_{k}')  # noqa: E731
            cond = torch.cat([y, zs[i + 1]], 1) if G.hier else y
            x = h
            h = F.relu(self._cbn(h, cond, b('bn1_mean'), b('bn1_var'), b('bn1_gain'), b('bn1_bias'), eps))
            h = F.conv2d(F.interpolate(h, scale_factor=2, mode='nearest'), b('conv1_w'), b('conv1_b'), padding=1)
            h = F.relu(self._cbn(h, cond, b('bn2_mean'), b('bn2_var'), b('bn2_gain'), b('bn2_bias'), eps))
            h = F.conv2d(h, b('conv2_w'), b('conv2_b'), padding=1)
            h = h + F.interpolate(F.conv2d(x, b('conv_sc_w'), b('conv_sc_b')), scale_factor=2, mode='nearest')
            if 'att_gamma' in G.blocks[i]:
                h = self._attention(h, b('att_theta'), b('att_phi'), b('att_g'), b('att_o'), b('att_gamma'))
        h = F.relu(F.batch_norm(h, G.out_mean, G.out_var, G.out_gain, G.out_bias, False, 0.0, eps))
        return torch.tanh(F.conv2d(h, G.out_w, G.out_b, padding=1))

    @staticmethod
    def _cbn(x, y, mean, var, gain_w, bias_w, eps):
        out = F.batch_norm(x, mean, var, None, None, False, 0.0, eps)
        gain = 1 + F.linear(y, gain_w)
        bias = F.linear(y, bias_w)
        return out * gain[:, :, None, None] + bias[:, :, None, None]

    @staticmethod
    def _attention(x, w_theta, w_phi, w_g, w_o, gamma):
        B, C, H, W = x.shape
        K, V = w_theta.shape[0], w_g.shape[0]
        theta = F.conv2d(x, w_theta).reshape(B, K, H * W)
        phi = F.max_pool2d(F.conv2d(x, w_phi), 2).reshape(B, K, H * W // 4)
        g = F.max_pool2d(F.conv2d(x, w_g), 2).reshape(B, V, H * W // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = F.conv2d(torch.bmm(g, beta.transpose(1, 2)).reshape(B, V, H, W), w_o)
        return x + gamma * o


class ClassifierTS(nn.Module):
    """The VGG's forwardWithFeatures in src/models/vgg.ts's order, on a pipeline.VGG's buffers:
    each eval batchnorm folded into its conv's weight and bias on every forward (foldBatchNorm),
    conv then relu (one fused kernel there), max-pools, adaptive average pool, the classifier;
    returns the logits and the penultimate activations (the last linear layer's input)."""

    def __init__(self, V):
        super().__init__()
        self.V = V
        self.eps = float(getattr(V, 'config', {}).get('eps', 1e-5))

    def forward(self, x):
        V = self.V
        for n, layer in enumerate(V.layers):
            w, b = getattr(V, f'c{n}_w'), getattr(V, f'c{n}_b')
            if 'bn' in layer:
                s = getattr(V, f'c{n}_bn_g') / torch.sqrt(getattr(V, f'c{n}_bn_v') + self.eps)
                w = w * s.reshape(-1, 1, 1, 1)
                b = (b - getattr(V, f'c{n}_bn_m')) * s + getattr(V, f'c{n}_bn_bb')
            x = F.relu(F.conv2d(x, w, b, padding=1))
            if layer['pool']:
                x = F.max_pool2d(x, 2, 2)
        x = F.adaptive_avg_pool2d(x, V.pool_out).flatten(1)
        for j in V.fcs[:-1]:
            x = F.relu(F.linear(x, getattr(V, f'fc{j}_w'), getattr(V, f'fc{j}_b')))
        j = V.fcs[-1]
        return F.linear(x, getattr(V, f'fc{j}_w'), getattr(V, f'fc{j}_b')), x


def translate_by(x, shift, pad, fill=-1.0):
    """out[.., y, x] = in[.., y - dy, x - dx] inside, else fill, for a (dy, dx) int64 device tensor
    with |dy|, |dx| <= pad (src/kernels/translate.ts translateBy): the same ops every step."""
    H, W = x.shape[-2:]
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)
    rows = torch.arange(H, device=x.device) + (pad - shift[0])
    cols = torch.arange(W, device=x.device) + (pad - shift[1])
    return padded.index_select(2, rows).index_select(3, cols)


# ----------------------------------------------------------------------------------------------
# The input generator (src/train/inputGenerator.ts, anchored components)
# ----------------------------------------------------------------------------------------------

class InputGenerator(nn.Module):
    def __init__(self, num_classes, dim_z, hidden=HIDDEN, components=COMPONENTS, min_sigma=MIN_SIGMA):
        super().__init__()
        self.num_classes, self.dim_z, self.components, self.min_sigma = num_classes, dim_z, components, min_sigma
        # nn.Linear's init is the TS Linear's: U(+-1/sqrt(fan_in)) for weights and biases.
        self.trunk1 = nn.Linear(num_classes, hidden)
        self.trunk2 = nn.Linear(hidden, hidden)
        self.mu = nn.Linear(hidden, dim_z * components)
        self.sigma = nn.Linear(hidden, dim_z * components)
        self.register_buffer('anchors', torch.zeros(num_classes * components, dim_z))
        self.register_buffer('eye', torch.eye(num_classes))

    def forward(self, target, pick, anchor_rows):
        hot = self.eye.index_select(0, target)  # oneHot
        h = F.relu(self.trunk2(F.relu(self.trunk1(hot))))
        mu_all = self.mu(h)  # (B, components * dimZ)
        sigma_all = F.softplus(self.sigma(h)) + self.min_sigma
        rows = target.shape[0] * self.components
        offset = mu_all.reshape(rows, self.dim_z).index_select(0, pick)  # embedding(mu rows, pick)
        mu = offset + self.anchors.index_select(0, anchor_rows)
        sigma = sigma_all.reshape(rows, self.dim_z).index_select(0, pick)
        return mu, sigma


# ----------------------------------------------------------------------------------------------
# The step
# ----------------------------------------------------------------------------------------------

class Step:
    """The default pipeline of bench/trainStep.ts on one device, and its training step."""

    def __init__(self, device, batch, seed=0, G=None, V=None):
        self.device, self.batch = device, batch
        G = G if G is not None else generator_from_safetensors()
        V = V if V is not None else classifier_from_safetensors()
        self.G = freeze(GeneratorTS(freeze(G))).to(device)
        self.V = freeze(ClassifierTS(freeze(V))).to(device)
        self.num_classes, self.dim_z = V.num_classes, G.dim_z
        self.factor = CLASSIFIER_SIZE // G.resolution
        if self.factor * G.resolution != CLASSIFIER_SIZE:
            raise ValueError(f'classifier size {CLASSIFIER_SIZE} is not a whole multiple of G resolution {G.resolution}')
        features = getattr(V, f'fc{V.fcs[-1]}_w').shape[1]
        K = self.num_classes
        # bench/trainStep.ts standInPriorRange: zero means, unit invVar, a radius no sample reaches
        self.pr_mean = torch.zeros(K, features, device=device)
        self.pr_inv_var = torch.ones(1, features, device=device)
        self.pr_radius = torch.full((K, 1), 1e30, device=device)
        self.eye = torch.eye(K, device=device)
        self.g_classes = torch.full((batch,), GENERATOR_CLASS, dtype=torch.long, device=device)
        torch.manual_seed(seed)
        self.ig = InputGenerator(K, self.dim_z).to(device)
        self.initial_state = {k: v.detach().clone() for k, v in self.ig.state_dict().items()}
        self.rng = np.random.default_rng(seed)

    def draw(self):
        """Host draws in lossFor's order: classes, noise, components, shift; then the component rows."""
        B, C, s = self.batch, COMPONENTS, WEIGHTS['shift']
        classes = self.rng.integers(0, self.num_classes, size=B)
        eps = self.rng.standard_normal((B, self.dim_z), dtype=np.float32)
        component = self.rng.integers(0, C, size=B)
        translation = self.rng.integers(-s, s + 1, size=2)
        return {'target': classes.astype(np.int64), 'eps': eps,
                'pick': (np.arange(B) * C + component).astype(np.int64),
                'anchor_rows': (classes * C + component).astype(np.int64),
                'translation': translation.astype(np.int64)}

    def upload(self, draws):
        return {k: torch.from_numpy(v).to(self.device) for k, v in draws.items()}

    def loss_of(self, ig, inputs):
        target = inputs['target']
        mu, sigma = ig(target, inputs['pick'], inputs['anchor_rows'])
        z = mu + sigma * inputs['eps']
        images = self.G(z, self.G.G.shared.index_select(0, self.g_classes))
        x = F.interpolate(images, scale_factor=self.factor, mode='nearest') if self.factor > 1 else images
        x = translate_by(x, inputs['translation'], WEIGHTS['shift'])
        logits, features = self.V(x)
        hot = self.eye.index_select(0, target)
        # hingedCrossEntropy: mean(relu(-log softmax[target] + log p))
        per_row = -(F.log_softmax(logits, 1) * hot).sum(1)
        loss = F.relu(per_row + math.log(WEIGHTS['confidence'])).mean()
        # priorRangePenalty
        d2 = ((features - hot @ self.pr_mean) ** 2 * self.pr_inv_var).mean(1, keepdim=True)
        loss = loss + F.relu(d2 - hot @ self.pr_radius).mean() * WEIGHTS['priorRange']
        # KL: 0.5 (sigma^2 + mu^2 - 1) - log sigma, mean over batch and latent dims
        kl = (0.5 * (sigma ** 2 + mu ** 2 - 1) - torch.log(sigma)).mean()
        loss = loss + kl * WEIGHTS['kl']
        with torch.no_grad():
            ce = F.cross_entropy(logits, target)
            correct = ((logits == logits.max(1, keepdim=True).values).float() * hot).sum()
            mean_sigma = sigma.mean()
        return loss, ce, correct, mean_sigma

    def train_op(self, ig, optimizer, inputs):
        """forward, backward, Adam, zero_grad; the four statistics in one device tensor."""
        loss, ce, correct, mean_sigma = self.loss_of(ig, inputs)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return torch.stack([loss.detach(), ce, correct, mean_sigma])

    def fresh_input_generator(self):
        ig = InputGenerator(self.num_classes, self.dim_z).to(self.device)
        ig.load_state_dict(self.initial_state)
        return ig


def spread(ms):
    a = np.asarray(ms, dtype=np.float64)
    return {'median': float(np.median(a)), 'p10': float(np.percentile(a, 10)), 'p90': float(np.percentile(a, 90)),
            'min': float(a.min()), 'max': float(a.max())}


def run_eager(step, steps, warmup):
    ig = step.fresh_input_generator()
    optimizer = torch.optim.Adam(ig.parameters(), lr=LR)
    times, last = [], None
    for i in range(warmup + steps):
        gc.collect()
        t0 = time.perf_counter()
        inputs = step.upload(step.draw())
        last = step.train_op(ig, optimizer, inputs).cpu()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    foreach = optimizer.defaults.get('foreach')
    return times, last, {'optimizer': 'Adam (torch defaults but lr)',
                         'foreach': 'None: torch picks (multi-tensor foreach on CUDA)' if foreach is None else foreach,
                         'fused': optimizer.defaults.get('fused'), 'capturable': optimizer.defaults.get('capturable')}


def run_cuda_graph(step, steps, warmup):
    """The documented whole-network capture (forward, backward, optimizer.step in one graph)."""
    ig = step.fresh_input_generator()
    optimizer = torch.optim.Adam(ig.parameters(), lr=LR, capturable=True)
    static = step.upload(step.draw())

    def fill(draws):
        for k, v in draws.items():
            static[k].copy_(torch.from_numpy(v))

    def body():
        loss, ce, correct, mean_sigma = step.loss_of(ig, static)
        loss.backward()
        optimizer.step()
        return torch.stack([loss.detach(), ce, correct, mean_sigma])

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up on a side stream, as torch.cuda.graphs asks
            fill(step.draw())
            optimizer.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_stats = body()
    times, last = [], None
    for i in range(warmup + steps):
        gc.collect()
        t0 = time.perf_counter()
        fill(step.draw())
        graph.replay()
        last = static_stats.cpu()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return times, last, {'optimizer': 'Adam', 'capturable': True,
                         'note': '3 side-stream warm-up steps + the capture step before the timed replays'}


# ----------------------------------------------------------------------------------------------
# Precision settings and the record of the environment
# ----------------------------------------------------------------------------------------------

def set_fp32():
    """TF32 off for cuBLAS and cuDNN, by the legacy flags (torch >= 2.9 warns that they are
    deprecated: silenced), or by the new fp32_precision API where a torch refuses the old flags."""
    torch.backends.cudnn.benchmark = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        return 'torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False'
    except Exception as e:  # noqa: BLE001
        if not hasattr(torch.backends, 'fp32_precision'):
            raise
        torch.backends.cuda.matmul.fp32_precision = 'ieee'
        torch.backends.cudnn.conv.fp32_precision = 'ieee'
        return f"the legacy flags failed ({type(e).__name__}); torch.backends.cuda.matmul / cudnn.conv .fp32_precision = 'ieee'"


def precision_record():
    rec = {'cudnn_benchmark': torch.backends.cudnn.benchmark}

    def read(name, f):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                rec[name] = f()
        except Exception as e:  # noqa: BLE001 (a torch that refuses to read the legacy flags)
            rec[name] = f'unreadable: {e}'.splitlines()[0][:200]

    read('cuda_matmul_allow_tf32', lambda: torch.backends.cuda.matmul.allow_tf32)
    read('cudnn_allow_tf32', lambda: torch.backends.cudnn.allow_tf32)
    read('float32_matmul_precision', torch.get_float32_matmul_precision)
    if hasattr(torch.backends, 'fp32_precision'):  # torch >= 2.9's API
        read('fp32_precision', lambda: torch.backends.fp32_precision)
        read('cuda_matmul_fp32_precision', lambda: torch.backends.cuda.matmul.fp32_precision)
        read('cudnn_conv_fp32_precision', lambda: torch.backends.cudnn.conv.fp32_precision)
    return rec


def tf32_probe(device):
    """Measured: the relative error of a float32 matmul and conv against float64 (~1e-7 in
    float32, ~1e-3 with TF32), so the record shows what actually ran."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 512, generator=g, dtype=torch.float64), torch.randn(512, 256, generator=g, dtype=torch.float64)
    x, w = torch.randn(8, 64, 16, 16, generator=g, dtype=torch.float64), torch.randn(64, 64, 3, 3, generator=g, dtype=torch.float64)
    mm = (a.float().to(device) @ b.float().to(device)).double().cpu()
    cv = F.conv2d(x.float().to(device), w.float().to(device), padding=1).double().cpu()
    rel = lambda u, v: float((u - v).abs().max() / v.abs().max())  # noqa: E731
    return {'matmul_rel_err_vs_f64': rel(mm, a @ b), 'conv_rel_err_vs_f64': rel(cv, F.conv2d(x, w, padding=1))}


def environment(device):
    env = {'torch': torch.__version__, 'numpy': np.__version__, 'python': platform.python_version(),
           'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           'device': str(device), 'threads': torch.get_num_threads()}
    if device.type == 'cuda':
        env['device_name'] = torch.cuda.get_device_name(device)
        env['capability'] = '.'.join(map(str, torch.cuda.get_device_capability(device)))
    else:
        env['device_name'] = platform.processor() or platform.machine()
        try:
            with open('/proc/cpuinfo') as f:
                m = re.search(r'model name\s*:\s*(.*)', f.read())
            if m:
                env['device_name'] = m.group(1).strip()
        except OSError:
            pass
    return env


# ----------------------------------------------------------------------------------------------
# --check
# ----------------------------------------------------------------------------------------------

# [loss, cross-entropy, correct, mean sigma] of the TS engine's first two eager trainingSteps on
# buildBenchPipeline(defaultTrainConfig(8)) with Rng(0) (bench/trainStep.ts's setup at batch 8),
# on lavapipe at commit 7c57b16.
TS_STEPS_BATCH8 = [[5.9641242027282715, 6.047677993774414, 0, 0.6944237947463989],
                   [9.162264823913574, 9.245437622070312, 1, 0.6931414604187012]]


def steps_with_ts_draws(batch, steps, G, V):
    """The step here with the TS engine's numbers: the input generator's weights from Rng(0) in
    its Linear order, and each step's draws from a second Rng(0) in trainingStep's order (classes,
    eps, components, dy, dx), through train_reference.py's bit-exact port of src/engine/random.ts."""
    from train_reference import TsRng
    step = Step(torch.device('cpu'), batch, 0, G, V)
    ig = step.fresh_input_generator()
    init = TsRng(0)
    with torch.no_grad():
        for lin in (ig.trunk1, ig.trunk2, ig.mu, ig.sigma):
            bound = 1 / math.sqrt(lin.in_features)
            lin.weight.copy_(init.fill_uniform(lin.weight.numel(), -bound, bound).reshape(lin.weight.shape))
            lin.bias.copy_(init.fill_uniform(lin.bias.numel(), -bound, bound))
    optimizer = torch.optim.Adam(ig.parameters(), lr=LR)
    rng, C, sh = TsRng(0), COMPONENTS, WEIGHTS['shift']
    out = []
    for _ in range(steps):
        classes = np.array([rng.int(step.num_classes) for _ in range(batch)], dtype=np.int64)
        eps = rng.fill_normal(batch * step.dim_z).numpy().reshape(batch, step.dim_z)
        component = np.array([rng.int(C) for _ in range(batch)], dtype=np.int64)
        translation = np.array([rng.int(2 * sh + 1) - sh, rng.int(2 * sh + 1) - sh], dtype=np.int64)
        draws = {'target': classes, 'eps': eps, 'pick': np.arange(batch) * C + component,
                 'anchor_rows': classes * C + component, 'translation': translation}
        out.append(step.train_op(ig, optimizer, step.upload(draws)).tolist())
    return out

def max_abs(a, b):
    return float((a.double() - b.double()).abs().max())


def check(args):
    torch.set_num_threads(args.threads or 2)
    ok = True

    def line(name, value, limit=None, fmt='.3e'):
        nonlocal ok
        good = limit is None or value <= limit
        ok &= good
        print(f'  {name:66s} {value:{fmt}}' + ('' if limit is None else f'  ({"ok" if good else "FAIL"} <= {limit:g})'))

    print('constants against src/train/defaults.ts:')
    path = os.path.join(ROOT, 'src', 'train', 'defaults.ts')
    if os.path.exists(path):
        text = open(path).read()
        block = text[text.index('TRAINING_DEFAULTS'):text.index('};', text.index('TRAINING_DEFAULTS'))]

        def num(key, where=block):
            m = re.search(rf'\b{key}:\s*([-0-9.e]+)', where)
            return float(m.group(1)) if m else None

        weights = block[block.index('weights:'):]
        pairs = [('lr', LR, num('lr')), ('hidden', HIDDEN, num('hidden')), ('components', COMPONENTS, num('components')),
                 ('minSigma', MIN_SIGMA, num('minSigma')), ('classifierSize', CLASSIFIER_SIZE, num('classifierSize')),
                 ('generatorClass', GENERATOR_CLASS, num('generatorClass'))]
        pairs += [(f'weights.{k}', v, num(k, weights)) for k, v in WEIGHTS.items()]
        for name, ours, theirs in pairs:
            good = theirs is not None and float(ours) == theirs
            ok &= good
            print(f'  {name:20s} ours {ours!s:8s} defaults.ts {theirs!s:8s} {"ok" if good else "FAIL"}')
        if 'initialSigma: undefined' not in block:
            ok = False
            print('  initialSigma is set in defaults.ts: this script leaves the sigma head at its own init  FAIL')
    else:
        print(f'  ({path} absent: skipped)')

    G_st = freeze(generator_from_safetensors())
    V_st = freeze(classifier_from_safetensors())
    G_ts, V_ts = GeneratorTS(G_st), ClassifierTS(V_st)
    io = torch.load(PAIR_IO) if os.path.exists(PAIR_IO) else torch.load(os.path.join(SHARED_PRETRAINED, 'fmnist_pair.io.pth'))
    z, target = io['z'], io['target']
    y = G_st.shared[torch.zeros(z.shape[0], dtype=torch.long)]

    have_pth = all(os.path.exists(os.path.join(SHARED_PRETRAINED, f)) for f in ('fmnist_biggan32_G.pth', 'fmnist_vgg_bn64.pth'))
    if have_pth:
        print(f'safetensors-built models against pipeline.py on {SHARED_PRETRAINED}/*.pth (max abs diff):')
        G_pth = freeze(ref.BigGANGenerator(ref.load_state_dict(os.path.join(SHARED_PRETRAINED, 'fmnist_biggan32_G.pth'))))
        V_pth = freeze(ref.VGG(ref.load_state_dict(os.path.join(SHARED_PRETRAINED, 'fmnist_vgg_bn64.pth'))))
        # The converter bakes spectral norm in float64 (its metadata says so): the same from the .pth here.
        G_pth64 = freeze(_with_spectral_norm(_spectral_normed_f64, ref.BigGANGenerator,
                                             ref.load_state_dict(os.path.join(SHARED_PRETRAINED, 'fmnist_biggan32_G.pth'))))
        gb, vb = dict(G_st.named_buffers()), dict(V_st.named_buffers())
        g64 = dict(G_pth64.named_buffers())
        line('G weights vs the .pth with spectral norm baked in f64 here', max(max_abs(gb[k], g64[k]) for k in g64 if k in gb), 1e-7)
        gp, vp = dict(G_pth.named_buffers()), dict(V_pth.named_buffers())
        if set(gb) != set(gp) or set(vb) != set(vp):
            print(f'  buffer names differ: G {sorted(set(gb) ^ set(gp))}, VGG {sorted(set(vb) ^ set(vp))}')
            ok = False
        worst_g = max((k for k in gp if k in gb), key=lambda k: max_abs(gb[k], gp[k]))
        line(f'G weights, worst buffer ({worst_g}; SN baked in f64 vs f32)', max_abs(gb[worst_g], gp[worst_g]), 1e-5)
        line('VGG weights, all buffers', max(max_abs(vb[k], vp[k]) for k in vp if k in vb), 0.0)
        with torch.no_grad():
            img_pth = G_pth(z)
            img_st_ref = G_st(z)
            img_ts = G_ts(z, y)
            line('G image: the TS-order forward (safetensors) vs .pth, SN in f64', max_abs(img_ts, G_pth64(z)), 1e-5)
            line("G image: pipeline.py's forward, safetensors vs .pth (SN in f32)", max_abs(img_st_ref, img_pth), 1e-4)
            line('G image: the TS-order forward (safetensors) vs .pth (SN in f32)', max_abs(img_ts, img_pth), 1e-4)
            x = ref.upsample(img_pth, 2)
            lg_pth, ft_pth = V_pth(x, return_features=True)
            lg_st, ft_st = V_st(x, return_features=True)
            lg_ts, ft_ts = V_ts(x)
            line("VGG logits: pipeline.py's forward, safetensors vs .pth", max_abs(lg_st, lg_pth), 0.0)
            line('VGG logits: the TS-order forward (folded bn) vs .pth', max_abs(lg_ts, lg_pth), 1e-4)
            line('VGG features: the TS-order forward vs .pth', max_abs(ft_ts, ft_pth), 1e-4)
    else:
        print(f'({SHARED_PRETRAINED}/*.pth absent: the comparison with the .pth-built models is skipped)')

    print(f'the TS-order forwards on safetensors against the fixture {os.path.relpath(PAIR_IO, ROOT)} (max rel err, as pipeline.py):')
    zz = z.clone().requires_grad_(True)
    img = G_ts(zz, y)
    logits, _ = V_ts(F.interpolate(img, scale_factor=2, mode='nearest'))
    loss = F.cross_entropy(logits, target)
    loss.backward()
    line('image', ref.rel(img.detach(), io['image']), 1e-4)
    line('logits', ref.rel(logits.detach(), io['logits']), 1e-4)
    line('loss', ref.rel(loss.detach(), io['loss']), 1e-4)
    line('grad_z', ref.rel(zz.grad, io['grad_z']), 1e-4)

    print('the shift against pipeline.translate (fill -1), all 81 (dy, dx) in [-4, 4]^2:')
    xs = torch.randn(2, 3, 64, 64)
    worst = max(max_abs(translate_by(xs, torch.tensor([dy, dx]), 4), ref.translate(xs, dy, dx))
                for dy in range(-4, 5) for dx in range(-4, 5))
    line('max abs diff', worst, 0.0)

    print('the whole step (loss terms, statistics, Adam) with the TS engine\'s init and draws, batch 8, '
          'against TS_STEPS_BATCH8 (max rel err of [loss, CE, correct, mean sigma]):')
    for i, (ours, theirs) in enumerate(zip(steps_with_ts_draws(8, len(TS_STEPS_BATCH8), G_st, V_st), TS_STEPS_BATCH8)):
        err = max(abs(a - b) / max(abs(b), 1e-30) if b else abs(a) for a, b in zip(ours, theirs))
        line(f'step {i + 1}: {", ".join(f"{v:.6g}" for v in ours)}', err, 1e-4)

    ig = InputGenerator(V_st.num_classes, G_st.dim_z)
    n = sum(p.numel() for p in ig.parameters())
    good = n == TS_INPUT_GENERATOR_PARAMETERS
    ok &= good
    print(f'input generator parameters: {n:,} (TS InputGenerator: {TS_INPUT_GENERATOR_PARAMETERS:,}) {"ok" if good else "FAIL"}')
    print(f'check {"passed" if ok else "FAILED"}')
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=50, help='timed steps')
    ap.add_argument('--warmup', type=int, default=10, help='untimed steps first')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: 2 on cpu, torch\'s own on cuda)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', default=None, help='write the rows and the environment here')
    ap.add_argument('--cuda-graph', action='store_true', help='also a row of the step captured once as a CUDA graph and replayed')
    ap.add_argument('--check', action='store_true', help='check the models and constants (CPU), no timing')
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args))

    device = torch.device(args.device)
    if device.type == 'cpu':
        torch.set_num_threads(args.threads or 2)
    elif args.threads:
        torch.set_num_threads(args.threads)
    how = set_fp32()
    step = Step(device, args.batch, args.seed)
    n_params = sum(p.numel() for p in step.ig.parameters())
    out = {'what': 'one training step of npm run train defaults (bench/trainStep.ts), PyTorch eager float32',
           'batch': args.batch, 'steps': args.steps, 'warmup': args.warmup, 'dtype': 'float32',
           'environment': environment(device), 'precisionSetBy': how, 'precision': precision_record(), 'tf32_probe': tf32_probe(device),
           'inputGeneratorParameters': n_params,
           'protocol': 'perf_counter around host draws + uploads + forward + backward + Adam + zero_grad + one '
                       'read-back of [loss, CE, correct, mean sigma]; gc.collect() before each step, untimed',
           'rows': []}
    print(f"{out['environment']['device_name']} | torch {torch.__version__} (CUDA {torch.version.cuda}) | batch {args.batch} | "
          f"{args.warmup} warm-up + {args.steps} timed steps | float32, TF32 probe: matmul {out['tf32_probe']['matmul_rel_err_vs_f64']:.1e}, "
          f"conv {out['tf32_probe']['conv_rel_err_vs_f64']:.1e} | input generator {n_params:,} parameters")
    if max(out['tf32_probe'].values()) > 1e-5:
        print('WARNING: the probe looks like TF32 (float32 gives ~1e-6): this is not a float32 timing')

    def write():
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(out, f, indent=1)

    # What exists now (torch's modules, the models) is left out of the collections: each step's
    # gc.collect() then only walks what the steps made, and costs little.
    gc.collect()
    gc.freeze()
    modes = [('eager', run_eager)]
    if args.cuda_graph:
        modes.append(('cuda-graph', run_cuda_graph))
    for mode, fn in modes:
        if mode == 'cuda-graph' and device.type != 'cuda':
            out['rows'].append({'mode': mode, 'error': 'needs --device cuda'})
            print(f'{mode}: skipped (needs --device cuda)')
            continue
        try:
            times, last, opt = fn(step, args.steps, args.warmup)
        except Exception as e:  # noqa: BLE001 (the capture is optional: record why it failed)
            out['rows'].append({'mode': mode, 'error': f'{type(e).__name__}: {e}'[:2000]})
            print(f'{mode}: FAILED {type(e).__name__}: {str(e).splitlines()[0][:300]}')
            write()
            continue
        s = spread(times)
        loss, ce, correct, mean_sigma = (float(v) for v in last)
        finite = all(math.isfinite(v) for v in (loss, ce, correct, mean_sigma))
        row = {'mode': mode, 'ms': s, 'imagesPerSec': args.batch * 1000 / s['median'],
               'lastStep': {'loss': loss, 'crossEntropy': ce, 'correct': correct, 'accuracy': correct / args.batch,
                            'meanSigma': mean_sigma, 'finite': finite},
               'optimizer': opt}
        out['rows'].append(row)
        print(f"training step, {mode}, batch {args.batch}: median {s['median']:.3f} ms (p10 {s['p10']:.3f}, p90 {s['p90']:.3f}) "
              f"= {row['imagesPerSec']:.0f} images/s | last step: loss {loss:.4f}, cross-entropy {ce:.4f}, "
              f"batch accuracy {correct / args.batch:.3f}, mean sigma {mean_sigma:.4f}{'' if finite else ' (NOT FINITE)'}")
        write()
    out['precisionAfter'] = precision_record()
    write()


if __name__ == '__main__':
    main()
