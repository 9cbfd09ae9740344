"""The conditional DCGAN's training steps in PyTorch, for test/dcgan.test.ts.

Run with a Python that has torch (Debian: apt-get install python3-torch):
    /usr/bin/python3 tools/reference/make_cgan_fixture.py
Writes test/data/fixtures/cgan_step.pth: a tiny generator and discriminator of
src/models/dcgan.ts's layout (16x16, z 8, 3 classes embedded in 4, G channels
[8, 4], D channels [4, 8]) with their initial state dicts (`G.*`, `D.*`), a
batch (`real`, `labels`, `z0`, `z1`: one noise batch per step), and for each
loss (bce, lsgan, hinge) the state dicts after two alternating steps
(`<loss>.G.*`, `<loss>.D.*`: weights and batchnorm running statistics) and the
four losses (`<loss>.losses`: D then G, step 1 then step 2). Adam lr 2e-4,
betas (0.5, 0.999); both networks in training mode throughout.

Also writes test/data/fixtures/cgan_spectral_norm_step.pth, for
test/spectralNorm.test.ts: the same networks with torch.nn.utils.spectral_norm
on every convolution of both (the transposed ones at dim 1), their initial
state dicts (`G.*`, `D.*`: weight_orig, weight_u, weight_v), the same batch,
two hinge-loss steps as above (`hinge.G.*`, `hinge.D.*`, `hinge.losses`), and
D's logits on the real batch in eval mode after them (`hinge.evalLogits`:
u and v as stored, no power iteration).

And test/data/fixtures/cgan_projection_step.pth, for test/dcgan.test.ts: the same
generator with a projection discriminator (Miyato & Koyama 2018: no label channel;
the logit is the final conv's plus <projection(y), features summed over space>), its
initial state dicts, the same batch, and two steps for each loss as above.

And test/data/fixtures/cgan_auxiliary_step.pth: the same generator with an
auxiliary-classifier discriminator (AC-GAN, Odena et al. 2017: no label channel; a
second 4x4 conv on the last features, `classifier`, gives class logits), and two
steps for each loss as above, where D's loss adds the cross-entropy of its class
logits on the real and the generated batch, and G's on its own batch.

And test/data/fixtures/cgan_upsample_step.pth: a generator that doubles the side by
nearest upsampling and a 3x3 conv (nn.Upsample then nn.Conv2d, so its convs sit at
main.0, 4, 8) with the first discriminator, and two steps for each loss as above.

And test/data/fixtures/cgan_batchnorm_step.pth: a generator conditioned by
batchnorm (z alone enters; each batchnorm main.<i> is affine-free and followed by
its class's gain and bias, x * (1 + class_gain.<i>(y)) + class_bias.<i>(y), the
tables drawn N(0, 0.2) so that they matter) with the first discriminator, and two
steps for each loss as above.
"""

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "data", "fixtures")
OUT = os.path.join(FIXTURES, "cgan_step.pth")
OUT_SN = os.path.join(FIXTURES, "cgan_spectral_norm_step.pth")
OUT_PROJECTION = os.path.join(FIXTURES, "cgan_projection_step.pth")
OUT_AUXILIARY = os.path.join(FIXTURES, "cgan_auxiliary_step.pth")
OUT_UPSAMPLE = os.path.join(FIXTURES, "cgan_upsample_step.pth")
OUT_BATCHNORM = os.path.join(FIXTURES, "cgan_batchnorm_step.pth")
Z, K, E, R = 8, 3, 4, 16


class G(nn.Module):
    """With `upsample`, each doubling after the first layer is nn.Upsample and a 3x3 conv."""

    def __init__(self, upsample=False):
        super().__init__()
        self.embed = nn.Embedding(K, E)
        if upsample:
            up = lambda cin, cout, bias: [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias)]
        else:
            up = lambda cin, cout, bias: [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)]
        self.main = nn.Sequential(
            nn.ConvTranspose2d(Z + E, 8, 4, 1, 0, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            *up(8, 4, False), nn.BatchNorm2d(4), nn.ReLU(),
            *up(4, 3, True), nn.Tanh(),
        )

    def forward(self, z, y):
        return self.main(torch.cat([z, self.embed(y)], 1).view(z.shape[0], Z + E, 1, 1))


class BatchnormG(nn.Module):
    """The class as each batchnorm's gain and bias (conditional batchnorm); z enters alone."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(Z, 8, 4, 1, 0, bias=False), nn.BatchNorm2d(8, affine=False), nn.ReLU(),
            nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4, affine=False), nn.ReLU(),
            nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=True), nn.Tanh(),
        )
        self.class_gain = nn.ModuleDict({"1": nn.Embedding(K, 8), "4": nn.Embedding(K, 4)})
        self.class_bias = nn.ModuleDict({"1": nn.Embedding(K, 8), "4": nn.Embedding(K, 4)})
        for table in list(self.class_gain.values()) + list(self.class_bias.values()):
            table.weight.data.normal_(0, 0.2)

    def forward(self, z, y):
        h = z.view(z.shape[0], Z, 1, 1)
        for i, layer in enumerate(self.main):
            h = layer(h)
            if str(i) in self.class_gain:
                h = h * (1 + self.class_gain[str(i)](y))[:, :, None, None] + self.class_bias[str(i)](y)[:, :, None, None]
        return h


class D(nn.Module):
    """src/models/dcgan.ts's discriminator: 4x4 stride-2 convs of `widths` (batchnorm on all but the first).
    The class enters as an embedded map beside the image, or with `projection` as <projection(y), the last features summed over space>,
    or with `auxiliary` not at all: a class-logit head on the last features."""

    def __init__(self, r=R, widths=(4, 8), classes=K, projection=False, auxiliary=False):
        super().__init__()
        self.r = r
        sees_label = not (projection or auxiliary)
        if sees_label:
            self.embed = nn.Embedding(classes, r * r)
        layers, cin = [], 4 if sees_label else 3
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(cin, w, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2))
            cin = w
        layers.append(nn.Conv2d(cin, 1, 4, 1, 0, bias=True))
        self.main = nn.Sequential(*layers)
        self.projection = nn.Embedding(classes, cin) if projection else None
        self.classifier = nn.Conv2d(cin, classes, 4, 1, 0, bias=True) if auxiliary else None

    def with_classes(self, x, y):
        """The logits and the auxiliary classifier's class logits."""
        h = self.main[:-1](x)
        return self.main[-1](h).view(-1), self.classifier(h).view(x.shape[0], -1)

    def forward(self, x, y):
        if self.classifier is not None:
            return self.with_classes(x, y)[0]
        if self.projection is None:
            return self.main(torch.cat([x, self.embed(y).view(x.shape[0], 1, self.r, self.r)], 1)).view(-1)
        h = self.main[:-1](x)
        return self.main[-1](h).view(-1) + (self.projection(y) * h.sum((2, 3))).sum(1)


def d_loss(kind, real, fake):
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "lsgan":
        return 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_loss(kind, fake):
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return 0.5 * F.mse_loss(fake, torch.ones_like(fake))
    return -fake.mean()


def train_two_steps(kind, g, d, batch):
    """Two alternating steps (D, then G on the updated D), as src/train/ganStep.ts."""
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    losses = []
    y = batch["labels"]
    for step in range(2):
        fake = g(batch[f"z{step}"], y)
        if d.classifier is None:
            loss_d = d_loss(kind, d(batch["real"], y), d(fake.detach(), y))
        else:
            (real_logits, real_classes), (fake_logits, fake_classes) = d.with_classes(batch["real"], y), d.with_classes(fake.detach(), y)
            loss_d = d_loss(kind, real_logits, fake_logits) + F.cross_entropy(real_classes, y) + F.cross_entropy(fake_classes, y)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if d.classifier is None:
            loss_g = g_loss(kind, d(fake, y))
        else:
            logits, classes = d.with_classes(fake, y)
            loss_g = g_loss(kind, logits) + F.cross_entropy(classes, y)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        losses += [loss_d.item(), loss_g.item()]
    out = {f"{kind}.losses": torch.tensor(losses)}
    out.update({f"{kind}.G.{k}": v.clone() for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")})
    out.update({f"{kind}.D.{k}": v.clone() for k, v in d.state_dict().items() if not k.endswith("num_batches_tracked")})
    return out


def spectral_normed(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.utils.spectral_norm(m)
    return model


def main():
    torch.manual_seed(0)
    g, d = G(), D()
    # Batchnorm affine parameters off their defaults, so that they matter.
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)
    B = 6
    out = {f"G.{k}": v.clone() for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
    out.update({f"D.{k}": v.clone() for k, v in d.state_dict().items() if not k.endswith("num_batches_tracked")})
    out["real"] = torch.rand(B, 3, R, R) * 2 - 1
    out["labels"] = torch.tensor([0, 2, 1, 1, 0, 2])
    out["z0"] = torch.randn(B, Z)
    out["z1"] = torch.randn(B, Z)
    init_g, init_d = g.state_dict(), d.state_dict()
    for kind in ["bce", "lsgan", "hinge"]:
        g2, d2 = G(), D()
        g2.load_state_dict({k: v.clone() for k, v in init_g.items()})
        d2.load_state_dict({k: v.clone() for k, v in init_d.items()})
        out.update(train_two_steps(kind, g2, d2, out))
    torch.save(out, OUT)
    print(f"wrote {OUT}: {len(out)} tensors")

    # Spectral norm, from its own seed so that the file above stays as it was.
    torch.manual_seed(1)
    g, d = spectral_normed(G()), spectral_normed(D())
    sn = {f"G.{k}": v.clone() for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
    sn.update({f"D.{k}": v.clone() for k, v in d.state_dict().items() if not k.endswith("num_batches_tracked")})
    for k in ["real", "labels", "z0", "z1"]:
        sn[k] = out[k]
    sn.update(train_two_steps("hinge", g, d, sn))
    d.eval()
    with torch.no_grad():
        sn["hinge.evalLogits"] = d(sn["real"], sn["labels"]).clone()
    torch.save(sn, OUT_SN)
    print(f"wrote {OUT_SN}: {len(sn)} tensors")

    # The variants, each from its own seed so that the files above stay as they were.
    write_variant(OUT_PROJECTION, 2, G, lambda: D(projection=True), out)
    write_variant(OUT_AUXILIARY, 3, G, lambda: D(auxiliary=True), out)
    write_variant(OUT_UPSAMPLE, 4, lambda: G(upsample=True), D, out)
    write_variant(OUT_BATCHNORM, 5, BatchnormG, D, out)


def write_variant(path, seed, make_g, make_d, batch):
    """Initial state dicts (batchnorm affine parameters off their defaults), the shared batch, and two steps of each loss."""
    torch.manual_seed(seed)
    g, d = make_g(), make_d()
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, nn.BatchNorm2d) and m.affine:
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)
    variant = {f"G.{k}": v.clone() for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
    variant.update({f"D.{k}": v.clone() for k, v in d.state_dict().items() if not k.endswith("num_batches_tracked")})
    for k in ["real", "labels", "z0", "z1"]:
        variant[k] = batch[k]
    init_g, init_d = g.state_dict(), d.state_dict()
    for kind in ["bce", "lsgan", "hinge"]:
        g2, d2 = make_g(), make_d()
        g2.load_state_dict({k: v.clone() for k, v in init_g.items()})
        d2.load_state_dict({k: v.clone() for k, v in init_d.items()})
        variant.update(train_two_steps(kind, g2, d2, variant))
    torch.save(variant, path)
    print(f"wrote {path}: {len(variant)} tensors")

if __name__ == "__main__":
    main()
