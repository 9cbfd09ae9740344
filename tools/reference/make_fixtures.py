"""Parity fixtures of other sizes, made with the real code of each layout (fixtures/README.md's recipe).

    /usr/bin/python3 tools/reference/make_fixtures.py --out /tmp/fx            # every variant
    /usr/bin/python3 tools/reference/make_fixtures.py --out /tmp/fx biggan_deep64_ch4 resnet_basic_w4

Each variant writes NAME.pth (the state dict, torch zip format) and NAME.io.pth (the inputs,
outputs and gradients PyTorch computes), plus NAME.config.json for BigGAN-deep (the file the
released checkpoints ship beside pytorch_model.bin). Then, from the repository root:

    npm run parity -- /tmp/fx/NAME.pth /tmp/fx/NAME.io.pth

Models (random weights, eval mode, float32 on the CPU):
- BigGAN-deep: pytorch-pretrained-BigGAN's own BigGAN (vendored in pytorch_pretrained_biggan/).
  Every spectral norm's u and v come from three power-iteration steps (forwards in training
  mode), so sigma = u . (W v) is about 0.7-0.9 of the true norm, not a fixed point; each of the
  n_stats rows of batchnorm statistics is random, so the interpolation between rows shows; the
  SelfAttn's gamma is 0.7 and the output batchnorm's affine random. io: z, class_vector (one-hot
  rows and a mixture), truncation (float32), image, cotangent, grad_z, grad_class_vector, config
  [output, channel_width, z_dim, n_classes, attention position, layers].
- VGG-Face: the vgg_face_dag port's structure (names conv1_1 ... fc8, relu, 2x2 pools, flatten,
  dropout as identity) at a fraction of the widths, any fc widths and head. x is RGB in 0..255
  minus the port's mean. io: x, target, logits, loss, grad_x, mean.
- ResNet: torchvision's own ResNet, BasicBlock and Bottleneck; `width` scales the stem and the
  planes (64, 128, 256, 512) by width / 64 through torchvision's _make_layer. Batchnorm running
  statistics from a few training-mode passes, affines random. io: x, target, logits, loss, grad_x.

Reference data only: the project itself is TypeScript/WebGPU.
"""
import argparse
import copy
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_pretrained_biggan import BigGAN, BigGANConfig  # noqa: E402

F_, T_ = False, True
# pytorch-pretrained-BigGAN's layer lists ([up_sample, in, out] in units of channel_width).
LAYERS_128 = [(F_, 16, 16), (T_, 16, 16), (F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 4),
              (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1)]
LAYERS_256 = [(F_, 16, 16), (T_, 16, 16), (F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 8),
              (F_, 8, 8), (T_, 8, 4), (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1)]
# 64: four up-samplings, one non-up-sampling block per resolution as in the released lists.
LAYERS_64 = [(F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 4), (F_, 4, 4), (T_, 4, 2),
             (F_, 2, 2), (T_, 2, 1)]

VGGFACE_MEAN = [129.186279296875, 104.76238250732422, 93.59396362304688]

BIGGAN_DEEP = {
    # 64x64, attention at 32x32 over 8 channels (theta and phi are 1 channel wide), truncation 0.4
    # exactly on row 20 (no interpolation), 5 classes, z 8.
    'biggan_deep64_ch4': dict(output_dim=64, channel_width=4, z_dim=8, num_classes=5, layers=LAYERS_64,
                              attention_layer_position=6, truncation=0.4, batch=2, seed=64),
    # The biggan-deep-256 layer list at channel_width 4, attention at 64x64.
    'biggan_deep256_ch4': dict(output_dim=256, channel_width=4, z_dim=32, num_classes=10, layers=LAYERS_256,
                               attention_layer_position=8, truncation=0.73, batch=2, seed=256),
    # The 128 list again with other counts: 1000 classes (one-hot and a mixture), z 24, truncation 1
    # (row 50, the last), attention before layer 2 (8x8).
    'biggan_deep128_ch3_c1000': dict(output_dim=128, channel_width=3, z_dim=24, num_classes=1000, layers=LAYERS_128,
                                     attention_layer_position=2, truncation=1.0, batch=2, seed=128),
    # Odd ones the real code allows: attention before layer 0 (4x4), a channel drop without an
    # up-sampling (layer 2: 16 -> 8 at 8x8), 11 rows of statistics, one class, truncation 0.15.
    'biggan_deep32_ch4_odd': dict(output_dim=32, channel_width=4, z_dim=8, num_classes=1,
                                  layers=[(F_, 16, 16), (T_, 16, 16), (F_, 16, 8), (T_, 8, 4), (T_, 4, 2), (F_, 2, 1)],
                                  attention_layer_position=0, n_stats=11, truncation=0.15, batch=2, seed=32),
    # No SelfAttn at all: attention_layer_position past the layers (the real code then adds none);
    # also a channel drop without up-sampling (layer 1) and 11 rows of statistics (truncation 0.55
    # between rows 5 and 6).
    'biggan_deep32_ch4_noattn': dict(output_dim=32, channel_width=4, z_dim=8, num_classes=3,
                                     layers=[(T_, 16, 16), (F_, 16, 8), (T_, 8, 4), (T_, 4, 2), (F_, 2, 1)],
                                     attention_layer_position=5, n_stats=11, truncation=0.55, batch=2, seed=33),
}

VGGFACE = {
    # widths 4/64 of VGG-16, fc 1568 -> 32 -> 32 -> 3
    'vggface_w4_h3': dict(width=4, hidden=(32, 32), num_classes=3, batch=2, seed=4),
    # widths 16/64, fc 6272 -> 96 -> 48 -> 7 (fc6 and fc7 of different widths); seeds 16 and 17 put a
    # relu within float32 rounding of its kink (grad_x 7e-3 and 4e-2 off float64)
    'vggface_w16_h7': dict(width=16, hidden=(96, 48), num_classes=7, batch=2, seed=18),
}

RESNET = {
    # resnet18-shaped BasicBlocks [2, 2, 2, 2] at widths 4/64 (stem 4, planes 4 .. 32), 32x32 input
    'resnet_basic_w4': dict(block='basic', layers=[2, 2, 2, 2], width=4, num_classes=10, side=32, batch=2, seed=18),
    # [1, 1, 1, 1] BasicBlocks at 16/64, 7 classes, an odd side (45: odd sizes through every stride)
    'resnet_basic11_w16': dict(block='basic', layers=[1, 1, 1, 1], width=16, num_classes=7, side=45, batch=2, seed=10),
    # ImageNet-shaped head (1000 classes) at widths 8/64: the converter turns on ImageNet
    # normalisation, and x (the network's own input) must be mapped back through it
    'resnet_basic_w8_c1000': dict(block='basic', layers=[1, 1, 1, 1], width=8, num_classes=1000, side=64, batch=2, seed=11),
    # Bottlenecks [2, 1, 2, 1], torchvision's widths, width_per_group 8
    'resnet_bottleneck_2121_g8': dict(block='bottleneck', layers=[2, 1, 2, 1], width=64, width_per_group=8,
                                      num_classes=10, side=64, batch=2, seed=50),
    # Bottlenecks [1, 2, 1, 1] at widths 8/64 with width_per_group 20: inner widths floor(planes * 20 / 64)
    # = 2, 5, 10, 20, which width_per_group 16 (the first that fits layer1) does not give
    'resnet_bottleneck_w8_g20': dict(block='bottleneck', layers=[1, 2, 1, 1], width=8, width_per_group=20,
                                     num_classes=6, side=48, batch=2, seed=51),
    # Real sizes (by hand: 45 and 94 MB): resnet18 at 224 with the ImageNet head, resnet50's Bottlenecks
    'resnet18_full': dict(block='basic', layers=[2, 2, 2, 2], width=64, num_classes=1000, side=224, batch=1, seed=12),
    'resnet50_full': dict(block='bottleneck', layers=[3, 4, 6, 3], width=64, num_classes=1000, side=96, batch=2, seed=13),
}


def save(out, name, state, io, config=None):
    torch.save(state, os.path.join(out, f'{name}.pth'))
    torch.save(io, os.path.join(out, f'{name}.io.pth'))
    if config is not None:
        with open(os.path.join(out, f'{name}.config.json'), 'w') as f:
            f.write(config.to_json_string())
    sizes = ', '.join(f'{os.path.getsize(os.path.join(out, n)) / 1024:.0f} KB' for n in (f'{name}.pth', f'{name}.io.pth'))
    print(f'{name}: {sizes}')


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def classifier_io(name, model, x, target, **extra):
    """logits, mean cross-entropy and grad_x in float32, checked against the same in float64: a
    relu whose pre-activation lies within float32 rounding of 0 makes grad_x depend on the summation
    order (fixtures/README.md's vggface_w8 note), which no other implementation can reproduce."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    x64 = x.detach().double().requires_grad_(True)
    loss64 = F.cross_entropy(copy.deepcopy(model).double()(x64), target)
    loss64.backward()
    noise = rel(x.grad.double(), x64.grad)
    print(f'{name}: loss {float(loss):.4f}, max |logit| {float(logits.abs().max()):.3f}, max |grad_x| {float(x.grad.abs().max()):.3e}; '
          f'grad_x float32 vs float64 {noise:.1e}')
    if noise > 1e-4:
        raise SystemExit(f'{name}: grad_x in float32 is {noise:.1e} off float64 (a relu on its kink?): choose another seed')
    return {'x': x.detach(), 'target': target, 'logits': logits.detach(), 'loss': loss.detach(), 'grad_x': x.grad, **extra}


# ---- BigGAN-deep ------------------------------------------------------------------------------

def spectral_normed(model):
    return [m for m in model.modules() if hasattr(m, 'weight_orig')]


def biggan_deep(name, output_dim, channel_width, z_dim, num_classes, layers, attention_layer_position,
                truncation, batch, seed, n_stats=51):
    torch.manual_seed(seed)
    config = BigGANConfig(output_dim=output_dim, z_dim=z_dim, class_embed_dim=z_dim, channel_width=channel_width,
                          num_classes=num_classes, layers=[list(l) for l in layers],
                          attention_layer_position=attention_layer_position, eps=1e-4, n_stats=n_stats)
    model = BigGAN(config)
    with torch.no_grad():
        for m in spectral_normed(model):
            w = m.weight_orig
            w.normal_(0, 1 / math.sqrt(w[0].numel()))
            if getattr(m, 'bias', None) is not None:
                m.bias.normal_(0, 0.2)
        model.embeddings.weight.normal_(0, 1 / math.sqrt(num_classes))
        for key, buf in model.named_buffers():
            if key.endswith('running_means'):
                buf.normal_(0, 0.15)
            elif key.endswith('running_vars'):
                buf.uniform_(0.5, 2.0)
        for m in model.modules():
            if hasattr(m, 'gamma'):
                m.gamma.fill_(0.7)
        model.generator.bn.weight.normal_(1, 0.2)
        model.generator.bn.bias.normal_(0, 0.2)
        # Three power-iteration steps from torch's random u, v: forwards in training mode (the
        # batchnorms use their stored statistics either way; nothing else trains).
        model.train()
        for _ in range(3):
            model(torch.randn(2, z_dim), torch.eye(num_classes)[:2] if num_classes > 1 else torch.ones(2, 1), 1.0)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    state = model.state_dict()
    sigmas = []
    for m in spectral_normed(model):
        wm = m.weight_orig.reshape(m.weight_orig.shape[0], -1)
        sigmas.append(float(torch.dot(m.weight_u, wm @ m.weight_v) / torch.linalg.matrix_norm(wm, 2)))

    g = torch.Generator().manual_seed(seed + 1)
    z = (torch.randn(batch, z_dim, generator=g).clamp(-2, 2) * truncation).requires_grad_(True)
    cv = torch.zeros(batch, num_classes)
    for i in range(batch):
        cv[i, (3 * i + 1) % num_classes] = 1
    if batch > 1 and num_classes > 1:  # the last row a soft mixture
        cv[-1] = torch.softmax(torch.randn(num_classes, generator=g) * 2, 0)
    cv.requires_grad_(True)
    image = model(z, cv, truncation)
    cot = torch.randn(image.shape, generator=g)
    (image * cot).sum().backward()
    saturated = float((image.abs() > 0.99).float().mean())
    print(f'{name}: image {tuple(image.shape)} std {image.std():.3f}, |image| > 0.99: {saturated:.1%}; '
          f'sigma / true norm {min(sigmas):.2f} .. {max(sigmas):.2f}; {len(state)} keys')
    io = {
        'z': z.detach(), 'class_vector': cv.detach(), 'truncation': torch.tensor(truncation, dtype=torch.float32),
        'image': image.detach(), 'cotangent': cot, 'grad_z': z.grad, 'grad_class_vector': cv.grad,
        'config': torch.tensor([output_dim, channel_width, z_dim, num_classes, attention_layer_position, len(layers)],
                               dtype=torch.int64),
    }
    save(OUT, name, state, io, config)


# ---- VGG-Face ---------------------------------------------------------------------------------

class VggFaceDag(nn.Module):
    """The structure of the vgg_face_dag port (flat names, relu after each conv, fc6 and fc7; 2x2
    max-pools after each block; dropout, the identity in eval) with widths and head as given."""

    def __init__(self, widths, hidden, num_classes):
        super().__init__()
        self.meta = {'mean': VGGFACE_MEAN, 'std': [1, 1, 1], 'imageSize': [224, 224, 3]}
        self.names = []
        channels = 3
        for b, (n, w) in enumerate(zip([2, 2, 3, 3, 3], widths)):
            for l in range(n):
                name = f'conv{b + 1}_{l + 1}'
                setattr(self, name, nn.Conv2d(channels, w, kernel_size=[3, 3], stride=(1, 1), padding=(1, 1)))
                self.names.append(name)
                channels = w
            setattr(self, f'pool{b + 1}', nn.MaxPool2d(kernel_size=[2, 2], stride=[2, 2], padding=0, dilation=1, ceil_mode=False))
        self.fc6 = nn.Linear(channels * 7 * 7, hidden[0])
        self.dropout6 = nn.Dropout(p=0.5)
        self.fc7 = nn.Linear(hidden[0], hidden[1])
        self.dropout7 = nn.Dropout(p=0.5)
        self.fc8 = nn.Linear(hidden[1], num_classes)

    def forward(self, x):
        for name in self.names:
            x = F.relu(getattr(self, name)(x))
            if name in ('conv1_2', 'conv2_2', 'conv3_3', 'conv4_3', 'conv5_3'):
                x = getattr(self, f'pool{name[4]}')(x)
        x = x.view(x.size(0), -1)
        x = self.dropout6(F.relu(self.fc6(x)))
        x = self.dropout7(F.relu(self.fc7(x)))
        return self.fc8(x)


def vggface(name, width, hidden, num_classes, batch, seed):
    torch.manual_seed(seed)
    widths = [width * k for k in (1, 2, 4, 8, 8)]
    model = VggFaceDag(widths, hidden, num_classes).eval()
    with torch.no_grad():  # He init, conv1_1 scaled for inputs of +-128, so the logits are O(1)
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                m.bias.normal_(0, 0.05)
        model.conv1_1.weight /= 64
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed + 1)
    mean = torch.tensor(VGGFACE_MEAN)
    x = torch.rand(batch, 3, 224, 224, generator=g) * 255 - mean.view(1, 3, 1, 1)
    target = torch.randint(0, num_classes, (batch,), generator=g)
    save(OUT, name, model.state_dict(), classifier_io(name, model, x, target, mean=mean))


# ---- ResNet -----------------------------------------------------------------------------------

def scaled_resnet(block, layers, width, num_classes, width_per_group=64):
    """torchvision's ResNet; a width other than 64 rebuilds the stem, layers and fc at that width
    (planes width * 1, 2, 4, 8) with torchvision's own _make_layer."""
    model = ResNet(block, layers, num_classes=num_classes, width_per_group=width_per_group)
    if width == 64:
        return model
    model.inplanes, model.dilation = width, 1
    model.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(block, width, layers[0])
    model.layer2 = model._make_layer(block, 2 * width, layers[1], stride=2)
    model.layer3 = model._make_layer(block, 4 * width, layers[2], stride=2)
    model.layer4 = model._make_layer(block, 8 * width, layers[3], stride=2)
    model.fc = nn.Linear(8 * width * block.expansion, num_classes)
    for m in model.modules():  # torchvision's init
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
    return model


def resnet(name, block, layers, width, num_classes, side, batch, seed, width_per_group=64):
    torch.manual_seed(seed)
    model = scaled_resnet(BasicBlock if block == 'basic' else Bottleneck, layers, width, num_classes, width_per_group)
    # batchnorm statistics off their defaults: a few training-mode passes, then random affines
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, side, side) * 1.5 + 0.2)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1, 0.25)
                m.bias.normal_(0, 0.2)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 3, side, side, generator=g)
    target = torch.randint(0, num_classes, (batch,), generator=g)
    save(OUT, name, model.state_dict(), classifier_io(name, model, x, target))


def main():
    global OUT
    variants = {**{k: (biggan_deep, v) for k, v in BIGGAN_DEEP.items()},
                **{k: (vggface, v) for k, v in VGGFACE.items()},
                **{k: (resnet, v) for k, v in RESNET.items()}}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('names', nargs='*', help=f'variants (default: all): {", ".join(variants)}')
    parser.add_argument('--out', default='/tmp/fx', help='output folder (default /tmp/fx)')
    args = parser.parse_args()
    OUT = args.out
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.names or variants:
        if name not in variants:
            parser.error(f'unknown variant {name!r}; known: {", ".join(variants)}')
        make, kwargs = variants[name]
        make(name, **kwargs)


OUT = '/tmp/fx'

if __name__ == '__main__':
    main()
