"""A BigGAN generator fine-tuned in PyTorch, for test/cgan_transfer.test.ts.

Run with a Python that has torch (Debian: apt-get install python3-torch):
    /usr/bin/python3 tools/reference/make_biggan_step_fixture.py
Writes test/data/fixtures/biggan_step.pth: a tiny BigGAN generator in the layout of the
converted model files (src/models/biggan.ts: BigGAN-PyTorch's keys with spectral norm baked into
plain weights; resolution 32, channels [8, 8, 8, 8], attention after block 1, hierarchical z of
4 chunks of 4, shared_dim 4, 3 classes) and make_cgan_fixture.py's DCGAN discriminator at 32x32
(channels [4, 8, 8]), their initial state dicts (`G.*`, `D.*`), a batch (`real`,
`labels`, `z0`, `z1`), `eval_image` = G(z0, labels) in eval mode (checks the layout before any
training), and after two alternating BCE steps with both networks in training mode (Adam lr
2e-4, betas (0.5, 0.999)) the four losses (`losses`) and both state dicts (`after.G.*`,
`after.D.*`: weights and batchnorm running statistics, G's updated with momentum 0.1 as in
BigGAN-PyTorch's ccbn and bn).

The generator is written out here from MODELS.md's description of BigGAN-PyTorch (that code base
is not vendored); its eval-mode image is the check that it is the same function as the engine's,
which test/models.test.ts checks against BigGAN-PyTorch's own fixtures.
"""

import os
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from make_cgan_fixture import D  # the discriminator of src/models/dcgan.ts's layout

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "data", "fixtures", "biggan_step.pth")
CH, BLOCKS, CHUNK, SHARED, K, R, EPS = 8, 3, 4, 4, 3, 32, 1e-5
DIM_Z = CHUNK * (BLOCKS + 1)
COND = SHARED + CHUNK
# A block's conv1 feeds bn2; the last block's sum feeds the output layer's batchnorm.
ZERO_GRADIENT = re.compile(r"^blocks\.(\d+\.0\.conv1|2\.0\.conv2|2\.0\.conv_sc)\.bias$")


class CondBN(nn.Module):
    """BigGAN-PyTorch's ccbn: batch statistics in training mode (momentum 0.1), stored ones in eval."""

    def __init__(self, c):
        super().__init__()
        self.gain = nn.Linear(COND, c, bias=False)
        self.bias = nn.Linear(COND, c, bias=False)
        self.register_buffer("stored_mean", torch.zeros(c))
        self.register_buffer("stored_var", torch.ones(c))

    def forward(self, x, y):
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, EPS)
        return out * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


class BN(nn.Module):
    """BigGAN-PyTorch's bn: affine parameters named gain and bias."""

    def __init__(self, c):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("stored_mean", torch.zeros(c))
        self.register_buffer("stored_var", torch.ones(c))

    def forward(self, x):
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, EPS)


class GBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.conv_sc = nn.Conv2d(c, c, 1)
        self.bn1 = CondBN(c)
        self.bn2 = CondBN(c)

    def forward(self, x, y):
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.theta = nn.Conv2d(c, c // 8, 1, bias=False)
        self.phi = nn.Conv2d(c, c // 8, 1, bias=False)
        self.g = nn.Conv2d(c, c // 2, 1, bias=False)
        self.o = nn.Conv2d(c // 2, c, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        B, C, H, W = x.shape
        theta = self.theta(x).view(B, C // 8, H * W)
        phi = F.max_pool2d(self.phi(x), 2).view(B, C // 8, H * W // 4)
        g = F.max_pool2d(self.g(x), 2).view(B, C // 2, H * W // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(B, C // 2, H, W))
        return x + self.gamma * o


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Embedding(K, SHARED)
        self.linear = nn.Linear(CHUNK, CH * 16)
        self.blocks = nn.ModuleList()
        for i in range(BLOCKS):
            entry = nn.ModuleList([GBlock(CH)])
            if i == 1:
                entry.append(Attention(CH))
            self.blocks.append(entry)
        self.output_layer = nn.Sequential(BN(CH), nn.ReLU(), nn.Conv2d(CH, 3, 3, padding=1))

    def forward(self, z, labels):
        y = self.shared(labels)
        zs = torch.split(z, CHUNK, 1)
        h = self.linear(zs[0]).view(z.shape[0], CH, 4, 4)
        for i, entry in enumerate(self.blocks):
            h = entry[0](h, torch.cat([y, zs[i + 1]], 1))
            if len(entry) > 1:
                h = entry[1](h)
        return torch.tanh(self.output_layer(h))


def state(m):
    return {k: v.clone() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}


def main():
    torch.manual_seed(0)
    g, d = G(), D(r=R, widths=(4, 8, 8), classes=K)
    # Off their defaults, so that they matter: batchnorm statistics and affines, attention's gamma.
    for name, t in g.state_dict().items():
        if name.endswith("stored_mean"):
            t.normal_(0, 0.3)
        elif name.endswith("stored_var"):
            t.uniform_(0.5, 1.5)
        elif name.endswith("output_layer.0.gain"):
            t.normal_(1, 0.2)
        elif name.endswith("output_layer.0.bias") or name.endswith("gamma"):
            t.normal_(0, 0.3)
    B = 6
    out = {f"G.{k}": v for k, v in state(g).items()}
    out.update({f"D.{k}": v for k, v in state(d).items()})
    out["real"] = torch.rand(B, 3, R, R) * 2 - 1
    out["labels"] = torch.tensor([0, 2, 1, 1, 0, 2])
    out["z0"] = torch.randn(B, DIM_Z)
    out["z1"] = torch.randn(B, DIM_Z)
    g.eval()
    with torch.no_grad():
        out["eval_image"] = g(out["z0"], out["labels"])
    g.train()
    # Biases whose exact gradient is zero (each feeds only a batchnorm, which in training mode
    # subtracts the batch mean) stay fixed: Adam would scale their rounding noise up to steps of
    # up to lr, noise that then reaches the running means, differently in any two engines.
    for name, p in g.named_parameters():
        if ZERO_GRADIENT.match(name):
            p.requires_grad_(False)
    opt_g = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits
    losses = []
    for step in range(2):
        fake = g(out[f"z{step}"], out["labels"])
        real_logits = d(out["real"], out["labels"])
        fake_logits = d(fake.detach(), out["labels"])
        loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        logits = d(fake, out["labels"])
        loss_g = bce(logits, torch.ones_like(logits))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        losses += [loss_d.item(), loss_g.item()]
    out["losses"] = torch.tensor(losses)
    out.update({f"after.G.{k}": v for k, v in state(g).items()})
    out.update({f"after.D.{k}": v for k, v in state(d).items()})
    torch.save(out, OUT)
    print(f"wrote {OUT}: {len(out)} tensors")


if __name__ == "__main__":
    main()
