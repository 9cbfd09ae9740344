// Float64 reference for a torchvision ResNet in eval mode (MODELS.md), composed from the per-op
// references; the state dict as the checkpoint holds it (batchnorm not folded).
import { batchNormRef } from './batchnorm.js';
import { conv2dRef } from './biggan_block.js';
import { linearRef } from './matmul.js';
import { adaptiveAvgPool2dRef, maxPool2dRef } from './pool.js';

type State = (key: string) => { data: Float64Array; shape: number[] };
interface Act {
  x: Float64Array;
  shape: number[];
}

/** A bias-free conv with stride (the stride-1 result subsampled), then its eval-mode batchnorm. */
function convBnRef(a: Act, sd: State, conv: string, bn: string, stride: number, pad: number): Act {
  const w = sd(`${conv}.weight`);
  const [B, , H, W] = a.shape;
  const [O, , k] = w.shape;
  const full = conv2dRef(a.x, a.shape, w.data, w.shape, new Float64Array(O), pad);
  const [Hf, Wf] = [H + 2 * pad - k + 1, W + 2 * pad - k + 1];
  const [Ho, Wo] = [Math.floor((Hf - 1) / stride) + 1, Math.floor((Wf - 1) / stride) + 1];
  const y = new Float64Array(B * O * Ho * Wo);
  for (let p = 0; p < B * O; p++)
    for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) y[(p * Ho + i) * Wo + j] = full[(p * Hf + i * stride) * Wf + j * stride];
  const opts = { training: false, eps: 1e-5, runningMean: sd(`${bn}.running_mean`).data, runningVar: sd(`${bn}.running_var`).data };
  return { x: batchNormRef(y, B, O, opts, sd(`${bn}.weight`).data, sd(`${bn}.bias`).data), shape: [B, O, Ho, Wo] };
}

const relu = (a: Act): Act => ({ x: a.x.map((v) => Math.max(v, 0)), shape: a.shape });

/** Logits and the pooled features (the input of fc). */
export function resnetRef(x: Float64Array, shape: number[], sd: State, block: 'basic' | 'bottleneck', layers: number[]) {
  let h = relu(convBnRef({ x, shape }, sd, 'conv1', 'bn1', 2, 3));
  h = { x: maxPool2dRef(h.x, h.shape, 3, 2, 1), shape: [h.shape[0], h.shape[1], Math.floor((h.shape[2] - 1) / 2) + 1, Math.floor((h.shape[3] - 1) / 2) + 1] };
  layers.forEach((n, i) => {
    for (let b = 0; b < n; b++) {
      const p = `layer${i + 1}.${b}`;
      const stride = b === 0 && i > 0 ? 2 : 1;
      let out: Act;
      if (block === 'basic') {
        out = relu(convBnRef(h, sd, `${p}.conv1`, `${p}.bn1`, stride, 1));
        out = convBnRef(out, sd, `${p}.conv2`, `${p}.bn2`, 1, 1);
      } else {
        out = relu(convBnRef(h, sd, `${p}.conv1`, `${p}.bn1`, 1, 0));
        out = relu(convBnRef(out, sd, `${p}.conv2`, `${p}.bn2`, stride, 1));
        out = convBnRef(out, sd, `${p}.conv3`, `${p}.bn3`, 1, 0);
      }
      let identity = h;
      try {
        sd(`${p}.downsample.0.weight`);
        identity = convBnRef(h, sd, `${p}.downsample.0`, `${p}.downsample.1`, stride, 0);
      } catch {
        // no shortcut conv: the identity
      }
      h = relu({ x: out.x.map((v, k) => v + identity.x[k]), shape: out.shape });
    }
  });
  const [B, C] = h.shape;
  const features = adaptiveAvgPool2dRef(h.x, h.shape, [1, 1]);
  const fc = sd('fc.weight');
  return { logits: linearRef(features, fc.data, fc.shape, sd('fc.bias').data), features, featureShape: [B, C] };
}
